import * as pulumi from "@pulumi/pulumi";
import { DEPLOYER_PROJECT_ROLES, FORBIDDEN_PROJECT_ROLES } from "./roles";

export interface BootstrapConfig {
    readonly project: string;
    readonly region: string;
    /** owner/name, as the GitHub OIDC token's `repository` claim carries it. */
    readonly githubRepository: string;
    readonly stateBucketName: string;
    readonly stateBucketLocation: string;
    readonly deployerRoles: readonly string[];
}

/** Every problem in the stack configuration, each as `<key> = <value>: <what is allowed>`. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
/**
 * GitHub owners: 1-39 letters, digits and single inner hyphens; repositories: letters, digits, ".", "-", "_"
 * (not "." or ".."). Nothing else may reach the attribute condition, so no quote can break out of it.
 */
const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/;
/** A region (us-central1), a predefined dual-region (NAM4, EUR4, ...) or a multi-region (US, EU, ASIA). */
const BUCKET_LOCATION = /^(?:[a-z]+-[a-z]+[0-9]+|US|EU|ASIA|NAM4|EUR4|EUR5|EUR7|EUR8|ASIA1)$/i;
const ROLE = /^(?:roles\/[A-Za-z0-9_.]+|projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/roles\/[A-Za-z0-9_.]+)$/;

/** Reads and validates the bootstrap stack's configuration; throws one ConfigError listing every problem. */
export function loadBootstrapConfig(): BootstrapConfig {
    const problems: string[] = [];
    const reject = (key: string, value: string | undefined, allowed: string) => {
        problems.push(`${key} = ${value === undefined ? "(not set)" : JSON.stringify(value)}: ${allowed}`);
    };
    const own = new pulumi.Config();
    const gcpConfig = new pulumi.Config("gcp");
    const ownKey = (name: string) => `${pulumi.getProject()}:${name}`;

    const project = gcpConfig.get("project");
    if (project === undefined || !PROJECT_ID.test(project)) {
        reject("gcp:project", project, "a project id of 6-30 lowercase letters, digits and hyphens (pulumi config set gcp:project <id>)");
    }
    const region = gcpConfig.get("region");
    if (region === undefined || !REGION.test(region)) {
        reject("gcp:region", region, "a Google Cloud region such as us-central1 or europe-west4");
    }

    const githubRepository = own.get("githubRepository");
    if (githubRepository === undefined || !GITHUB_REPOSITORY.test(githubRepository)) {
        reject(
            ownKey("githubRepository"),
            githubRepository,
            "a GitHub repository as owner/name, e.g. acme/streaming-platform (no URL, no .git, no wildcard; " +
                "the owner is 1-39 letters, digits or inner hyphens, the name letters, digits, '.', '-' or '_')",
        );
    }

    const bucketSetting = own.get("stateBucketName") ?? "";
    const stateBucketName = bucketSetting !== "" ? bucketSetting : `${project}-pulumi-state`;
    if (bucketSetting !== "" && (!BUCKET_NAME.test(bucketSetting) || bucketSetting.startsWith("goog"))) {
        reject(
            ownKey("stateBucketName"),
            bucketSetting,
            "a bucket name of 3-63 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit " +
                "and not starting with goog; empty means <gcp:project>-pulumi-state",
        );
    }
    const locationSetting = own.get("stateBucketLocation") ?? "";
    if (locationSetting !== "" && !BUCKET_LOCATION.test(locationSetting)) {
        reject(
            ownKey("stateBucketLocation"),
            locationSetting,
            "a region (us-central1), dual-region (NAM4) or multi-region (US, EU); empty means gcp:region",
        );
    }

    const rolesSetting = own.get("deployerRoles");
    let deployerRoles: readonly string[] = DEPLOYER_PROJECT_ROLES;
    let parsed: unknown;
    try {
        parsed = rolesSetting === undefined ? [] : JSON.parse(rolesSetting);
    } catch {
        parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((role) => typeof role === "string")) {
        reject(ownKey("deployerRoles"), rolesSetting, 'a list of role names such as ["roles/container.admin"]; empty uses the built-in set');
    } else if (parsed.length > 0) {
        deployerRoles = parsed;
        for (const role of parsed) {
            const forbidden = FORBIDDEN_PROJECT_ROLES.find((f) => f.pattern.test(role));
            if (!ROLE.test(role)) {
                reject(ownKey("deployerRoles"), role, "role names such as roles/container.admin or projects/<id>/roles/<custom>");
            } else if (forbidden) {
                reject(ownKey("deployerRoles"), role, `a role other than this one: ${forbidden.reason}`);
            }
        }
    }

    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return {
        project: project!,
        region: region!,
        githubRepository: githubRepository!,
        stateBucketName,
        stateBucketLocation: locationSetting !== "" ? locationSetting : region!,
        deployerRoles,
    };
}
