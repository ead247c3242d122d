import { PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy, UnknownValueError, unknownCheckingProxy } from "@pulumi/policy";

// What the engine's analyzer (@pulumi/policy's server.js) does around a rule, for tests without the
// engine. Its not-applicable error is private, so it is reproduced here: the real notApplicable throws,
// so a rule that forgot to return after calling it would still stop, as it does here.

class NotApplicableError extends Error {
    constructor(readonly reason?: string) {
        super(reason ?? "Policy does not apply");
    }
}

/**
 * The sentinels the engine puts where a value is unknown in a preview; its props proxy throws on reading
 * them. Internal to @pulumi/policy (pinned in package.json), so a rename fails these tests loudly.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sentinels = require("@pulumi/policy/proxy") as Record<
    "unknownStringValue" | "unknownBooleanValue" | "unknownArrayValue" | "unknownObjectValue",
    string
>;
export const UNKNOWN = {
    string: sentinels.unknownStringValue,
    boolean: sentinels.unknownBooleanValue,
    array: sentinels.unknownArrayValue,
    object: sentinels.unknownObjectValue,
} as const;

export interface TestResource {
    readonly type: string;
    /** Inputs as the engine deserializes them: secrets unwrapped, UNKNOWN.* where a preview cannot know a value. */
    readonly props: Record<string, unknown>;
    readonly urn: string;
    readonly name?: string;
    readonly opts?: Partial<PolicyResourceOptions>;
}

/** How one rule judged one resource. */
export interface Outcome {
    readonly violations: string[];
    /** The reason given to notApplicable, when the rule called it. */
    readonly notApplicable?: string;
    /** The engine's "can't run during preview" message, when an unknown value escaped the rule. */
    readonly unknown?: string;
}

/** Runs a rule on a resource as the engine does: props behind its unknown-checking proxy, its notApplicable and error handling. */
export async function evaluate(policy: ResourceValidationPolicy, resource: TestResource, config: object = {}): Promise<Outcome> {
    const violations: string[] = [];
    const validations =
        policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    const props = unknownCheckingProxy(resource.props);
    // Generated SDK classes carry their type token; the engine compares it.
    const isType = (resourceClass: unknown) => (resourceClass as { __pulumiType?: string }).__pulumiType === resource.type;
    const args: ResourceValidationArgs = {
        type: resource.type,
        props,
        urn: resource.urn,
        name: resource.name ?? resource.urn.split("::").pop()!,
        opts: {
            protect: false,
            ignoreChanges: [],
            aliases: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: [],
            ...resource.opts,
        },
        stackTags: new Map(),
        isType,
        asType: (resourceClass) => (isType(resourceClass) ? props : undefined),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicableError(reason);
        },
    };
    let notApplicable: string | undefined;
    let unknown: string | undefined;
    for (const validation of validations) {
        try {
            await validation(args, (message) => {
                violations.push(message);
            });
        } catch (e) {
            if (e instanceof UnknownValueError) {
                unknown = `can't run policy '${policy.name}' during preview: ${(e as Error).message}`;
            } else if (e instanceof NotApplicableError) {
                notApplicable = e.reason ?? "";
            } else {
                throw e;
            }
        }
    }
    return { violations, notApplicable, unknown };
}

/** A resource URN as the engine builds it for a top-level resource. */
export const urnOf = (stack: string, type: string, name: string, project = "streaming-platform") =>
    `urn:pulumi:${stack}::${project}::${type}::${name}`;
