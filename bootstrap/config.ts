import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { DEPLOYER_PROJECT_ROLES, FORBIDDEN_PROJECT_ROLES } from "./roles";

export interface BootstrapConfig {
    readonly project: string;
    readonly region: string;
    /** owner/name, as the GitHub OIDC token's `sub` claim carries it (`repo:owner/name:...`). */
    readonly githubRepository: string;
    /** The token's `repository_id` claim: a number that stays when the repository is renamed and is new when it is re-created. */
    readonly githubRepositoryId: string;
    /** The token's `repository_owner_id` claim. */
    readonly githubOwnerId: string;
    /** GKE stacks of the platform that CI deploys; each gets a deployer, a secrets key, a node service account and repositories. */
    readonly stacks: readonly string[];
    /** The stack pull requests preview; the previewer decrypts only its key. */
    readonly previewStack: string;
    readonly stateBucketName: string;
    readonly stateBucketLocation: string;
    readonly deployerRoles: readonly string[];
    /** What bootstrap must know of each stack's platform configuration (its Pulumi.<stack>.yaml over Pulumi.yaml's defaults). */
    readonly platform: Readonly<Record<string, PlatformStackSettings>>;
    /**
     * A GKE cluster with Workload Identity exists in the project, so its workload pool (<project>.svc.id.goog)
     * does: only then can the backup and log service accounts' Workload Identity grants be made (Google refuses a
     * member of a missing pool). False on a new project until the first platform deployment.
     */
    readonly workloadPoolReady: boolean;
}

/** The platform settings of one stack that decide what bootstrap makes for it. */
export interface PlatformStackSettings {
    /** `deletionProtection`: the stack encrypts Secrets with a key bootstrap makes; its backup bucket is protected. */
    readonly deletionProtection: boolean;
    /** `binaryAuthorization` resolved as the platform does: `auto` enforces where deletionProtection is on. */
    readonly enforcesBinaryAuthorization: boolean;
    /** `backupRetentionDays` and `backupNoncurrentDays`: the backup bucket's lifecycle. */
    readonly backupRetentionDays: number;
    readonly backupNoncurrentDays: number;
    /** `logRetentionDays`: the log bucket's lifecycle. */
    readonly logRetentionDays: number;
    /** `alertPolicies`: the stack makes Cloud Monitoring alert policies (and their channels), so its deployer may. */
    readonly alertPolicies: boolean;
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

/** The platform program's directory, where its Pulumi.<stack>.yaml files are. */
const PLATFORM_DIR = path.resolve(__dirname, "..");
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
/**
 * GitHub owners: 1-39 letters, digits and single inner hyphens; repositories: letters, digits, ".", "-", "_"
 * (not "." or ".."). Nothing else may reach a subject, so no quote or wildcard can widen a binding.
 */
const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;
/** GitHub's numeric ids, as the OIDC token's claims carry them (strings of digits). */
const GITHUB_ID = /^[1-9][0-9]{0,19}$/;
/** Stack names end up in service account ids (platform-deployer-<stack>, at most 30 characters) and key names. */
const STACK = /^[a-z](?:[a-z0-9-]{0,10}[a-z0-9])?$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/;
/** A region (us-central1), a predefined dual-region (NAM4, EUR4, ...) or a multi-region (US, EU, ASIA). */
const BUCKET_LOCATION = /^(?:[a-z]+-[a-z]+[0-9]+|US|EU|ASIA|NAM4|EUR4|EUR5|EUR7|EUR8|ASIA1)$/i;
const ROLE = /^(?:roles\/[A-Za-z0-9_.]+|projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/roles\/[A-Za-z0-9_.]+)$/;

/** The platform's stacks that run on GKE: a Pulumi.<stack>.yaml whose clusterTarget is not kubeconfig. */
export function platformGkeStacks(): string[] {
    return fs
        .readdirSync(PLATFORM_DIR)
        .map((name) => /^Pulumi\.(.+)\.yaml$/.exec(name)?.[1])
        .filter((stack): stack is string => stack !== undefined)
        .filter((stack) => {
            const settings = parse(fs.readFileSync(path.join(PLATFORM_DIR, `Pulumi.${stack}.yaml`), "utf8"))?.config ?? {};
            return settings["streaming-platform:clusterTarget"] !== "kubeconfig";
        })
        .sort();
}

/** The platform's own settings of a stack: Pulumi.yaml's defaults, then Pulumi.<stack>.yaml. */
function platformSettings(stack: string): Record<string, unknown> {
    const read = (file: string) => parse(fs.readFileSync(path.join(PLATFORM_DIR, file), "utf8")) ?? {};
    const project = read("Pulumi.yaml");
    const defaults = Object.fromEntries(
        Object.entries((project.config ?? {}) as Record<string, { default?: unknown }>).map(([key, spec]) => [key, spec?.default]),
    );
    const prefix = `${project.name}:`;
    const own = Object.entries((read(`Pulumi.${stack}.yaml`).config ?? {}) as Record<string, unknown>)
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, value]) => [key.slice(prefix.length), value]);
    return { ...defaults, ...Object.fromEntries(own) };
}

/**
 * What bootstrap makes for a platform stack follows its committed configuration: the secrets key where
 * deletionProtection is on (and Backup for GKE's grants), the Binary Authorization grant where it enforces, the
 * backup and log buckets' lifecycles.
 */
export function platformStackSettings(
    stack: string,
    reject: (key: string, value: string | undefined, allowed: string) => void,
): PlatformStackSettings | undefined {
    const settings = platformSettings(stack);
    const where = `Pulumi.${stack}.yaml`;
    const text = (key: string) => (settings[key] === undefined || settings[key] === null ? undefined : String(settings[key]));
    const flag = (key: string): boolean | undefined => {
        const value = text(key);
        if (value !== "true" && value !== "false") {
            reject(`streaming-platform:${key} (${where})`, value, "true or false");
            return undefined;
        }
        return value === "true";
    };
    const days = (key: string, max: number): number | undefined => {
        const value = text(key);
        if (value === undefined || !/^[1-9][0-9]*$/.test(value) || Number(value) > max) {
            reject(`streaming-platform:${key} (${where})`, value, `a whole number of days from 1 to ${max}`);
            return undefined;
        }
        return Number(value);
    };
    const deletionProtection = flag("deletionProtection");
    const mode = text("binaryAuthorization");
    if (mode !== "auto" && mode !== "enforce" && mode !== "off") {
        reject(`streaming-platform:binaryAuthorization (${where})`, mode, "auto, enforce or off");
    }
    const backupRetentionDays = days("backupRetentionDays", 3650);
    const backupNoncurrentDays = days("backupNoncurrentDays", 365);
    const logRetentionDays = days("logRetentionDays", 3650);
    const alertPolicies = flag("alertPolicies");
    if (
        alertPolicies === undefined ||
        deletionProtection === undefined ||
        backupRetentionDays === undefined ||
        backupNoncurrentDays === undefined ||
        logRetentionDays === undefined
    ) {
        return undefined;
    }
    return {
        deletionProtection,
        enforcesBinaryAuthorization: mode === "enforce" || (mode === "auto" && deletionProtection),
        backupRetentionDays,
        backupNoncurrentDays,
        logRetentionDays,
        alertPolicies,
    };
}

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
    const githubId = (key: string, what: string) => {
        const value = own.get(key);
        if (value === undefined || !GITHUB_ID.test(value)) {
            reject(ownKey(key), value, `the numeric id of the ${what}, e.g. 123456789 (${ID_HINT[key]})`);
        }
        return value;
    };
    const githubRepositoryId = githubId("githubRepositoryId", "GitHub repository");
    const githubOwnerId = githubId("githubOwnerId", "repository's owner (user or organization)");

    const known = platformGkeStacks();
    const stacks = readList(own.get("stacks"), ownKey("stacks"), reject, '["dev", "prod"]');
    if (stacks !== undefined) {
        if (stacks.length === 0) {
            reject(ownKey("stacks"), "[]", `at least one of the platform's GKE stacks (${known.join(", ")})`);
        }
        for (const stack of stacks) {
            if (!STACK.test(stack) || !known.includes(stack)) {
                reject(
                    ownKey("stacks"),
                    stack,
                    `a GKE stack of the platform, one with a Pulumi.<stack>.yaml (${known.join(", ")}), ` +
                        "of at most 12 lowercase letters, digits and inner hyphens",
                );
            }
        }
        if (new Set(stacks).size !== stacks.length) {
            reject(ownKey("stacks"), JSON.stringify(stacks), "each stack once");
        }
    }
    const previewStack = own.get("previewStack") ?? "dev";
    if (stacks !== undefined && !stacks.includes(previewStack)) {
        reject(ownKey("previewStack"), previewStack, `one of the stacks (${stacks.join(", ")}): the previewer decrypts only its key`);
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

    let deployerRoles: readonly string[] = DEPLOYER_PROJECT_ROLES;
    const roles = readList(own.get("deployerRoles"), ownKey("deployerRoles"), reject, '["roles/container.admin"]; empty uses the built-in set');
    if (roles !== undefined && roles.length > 0) {
        deployerRoles = roles;
        for (const role of roles) {
            const forbidden = FORBIDDEN_PROJECT_ROLES.find((f) => f.pattern.test(role));
            if (!ROLE.test(role)) {
                reject(ownKey("deployerRoles"), role, "role names such as roles/container.admin or projects/<id>/roles/<custom>");
            } else if (forbidden) {
                reject(ownKey("deployerRoles"), role, `a role other than this one: ${forbidden.reason}`);
            }
        }
    }

    const platform: Record<string, PlatformStackSettings> = {};
    for (const stack of stacks ?? []) {
        if (known.includes(stack)) {
            const settings = platformStackSettings(stack, reject);
            if (settings) {
                platform[stack] = settings;
            }
        }
    }
    // The project has one Binary Authorization policy, written by the stack that enforces it.
    const enforcing = Object.keys(platform).filter((stack) => platform[stack].enforcesBinaryAuthorization);
    if (enforcing.length > 1) {
        reject(
            ownKey("stacks"),
            JSON.stringify(stacks),
            `stacks of which at most one enforces Binary Authorization (${enforcing.join(", ")} do): the project has one policy; ` +
                "set binaryAuthorization: off on all but one, or give each its own project and bootstrap stack",
        );
    }
    const poolSetting = own.get("workloadPoolReady") ?? "false";
    if (poolSetting !== "true" && poolSetting !== "false") {
        reject(ownKey("workloadPoolReady"), poolSetting, "true once a platform cluster exists in the project, false before");
    }

    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return {
        project: project!,
        region: region!,
        githubRepository: githubRepository!,
        githubRepositoryId: githubRepositoryId!,
        githubOwnerId: githubOwnerId!,
        stacks: stacks!,
        previewStack,
        stateBucketName,
        stateBucketLocation: locationSetting !== "" ? locationSetting : region!,
        deployerRoles,
        platform,
        workloadPoolReady: poolSetting === "true",
    };
}

const ID_HINT: Record<string, string> = {
    githubRepositoryId: "gh api repos/OWNER/NAME --jq .id",
    githubOwnerId: "gh api repos/OWNER/NAME --jq .owner.id",
};

/** A config list of strings (the CLI hands arrays over as JSON); undefined after reporting a wrong shape. */
function readList(
    value: string | undefined,
    key: string,
    reject: (key: string, value: string | undefined, allowed: string) => void,
    example: string,
): string[] | undefined {
    let parsed: unknown;
    try {
        parsed = value === undefined ? [] : JSON.parse(value);
    } catch {
        parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "string")) {
        reject(key, value, `a list of strings such as ${example}`);
        return undefined;
    }
    return parsed;
}
