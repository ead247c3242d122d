import {
    Policy,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    UnknownValueError,
    unknownCheckingProxy,
} from "@pulumi/policy";

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

/** A stack rule's violation: the engine attaches it to the resource whose URN the rule gave, else to the stack. */
export interface StackViolation {
    readonly message: string;
    readonly urn?: string;
}

/** How one stack rule judged one stack. */
export interface StackOutcome {
    readonly violations: StackViolation[];
    readonly notApplicable?: string;
    readonly unknown?: string;
}

export const isStackPolicy = (policy: Policy): policy is StackValidationPolicy =>
    typeof (policy as Partial<StackValidationPolicy>).validateStack === "function";

const resourceOptions = (opts: Partial<PolicyResourceOptions> = {}): PolicyResourceOptions => ({
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...opts,
});

/** Stands in for whatever the rule failed with, as the engine reports it. */
function caught(policy: Policy, e: unknown): { notApplicable?: string; unknown?: string } {
    if (e instanceof UnknownValueError) {
        return { unknown: `can't run policy '${policy.name}' during preview: ${(e as Error).message}` };
    }
    if (e instanceof NotApplicableError) {
        return { notApplicable: e.reason ?? "" };
    }
    throw e;
}

/**
 * Runs a stack rule on the resources of a stack as the engine's analyzeStack does: each resource's props
 * behind the unknown-checking proxy, its options with the engine's defaults, `parent` linked to the parent's
 * PolicyResource when the parent is among them (opts.parent is its URN). `dependencies` and
 * `propertyDependencies` are left empty: no rule reads them yet.
 */
export async function evaluateStack(policy: StackValidationPolicy, resources: readonly TestResource[], config: object = {}): Promise<StackOutcome> {
    const stack: PolicyResource[] = resources.map((resource) => {
        const props = unknownCheckingProxy(resource.props);
        const isType = (resourceClass: unknown) => (resourceClass as { __pulumiType?: string }).__pulumiType === resource.type;
        return {
            type: resource.type,
            props,
            urn: resource.urn,
            name: resource.name ?? resource.urn.split("::").pop()!,
            opts: resourceOptions(resource.opts),
            dependencies: [],
            propertyDependencies: {},
            isType,
            asType: (resourceClass: unknown) => (isType(resourceClass) ? props : undefined),
        } as PolicyResource;
    });
    const byUrn = new Map(stack.map((r) => [r.urn, r]));
    for (const resource of stack) {
        const parent = resource.opts.parent === undefined ? undefined : byUrn.get(resource.opts.parent);
        if (parent) {
            resource.parent = parent;
        }
    }
    const args: StackValidationArgs = {
        resources: stack,
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicableError(reason);
        },
    };
    const violations: StackViolation[] = [];
    try {
        await policy.validateStack(args, (message, urn) => {
            violations.push(urn === undefined ? { message } : { message, urn });
        });
    } catch (e) {
        return { violations, ...caught(policy, e) };
    }
    return { violations };
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
        opts: resourceOptions(resource.opts),
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
            const outcome = caught(policy, e);
            notApplicable = outcome.notApplicable ?? notApplicable;
            unknown = outcome.unknown ?? unknown;
        }
    }
    return { violations, notApplicable, unknown };
}

/** A resource URN as the engine builds it for a top-level resource. */
export const urnOf = (stack: string, type: string, name: string, project = "streaming-platform") =>
    `urn:pulumi:${stack}::${project}::${type}::${name}`;
