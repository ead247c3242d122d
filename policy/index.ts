import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

// Constructing the pack starts the analyzer server the Pulumi engine talks to; tests import ./rules instead.
new PolicyPack("streaming-platform", { policies });
