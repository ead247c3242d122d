import { Manifest } from "./render";

interface Model {
    new (data: unknown): { validate(): void };
}

/** The kubernetes-models class for an object's apiVersion and kind, or undefined for a kind it does not know. */
function modelOf(manifest: Manifest): Model | undefined {
    const [group, version] = manifest.apiVersion.includes("/") ? manifest.apiVersion.split("/") : ["", manifest.apiVersion];
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`)[manifest.kind];
    } catch {
        return undefined;
    }
}

/** The subset of OpenAPI v3 (JSON Schema) that CRDs' structural schemas use and the checks below need. */
export interface JsonSchema {
    readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
    readonly required?: readonly string[];
    readonly properties?: Readonly<Record<string, JsonSchema>>;
    /** false: no other property; a schema: every other property's value. */
    readonly additionalProperties?: boolean | JsonSchema;
    readonly items?: JsonSchema;
    readonly minItems?: number;
    readonly enum?: readonly unknown[];
    readonly pattern?: string;
    readonly minLength?: number;
    /** x-kubernetes-int-or-string: an integer or a string. */
    readonly intOrString?: boolean;
}

/** Problems of a value against a schema, each as "<path> <problem>". */
export function jsonSchemaProblems(value: unknown, schema: JsonSchema, path = ""): string[] {
    const at = path || "(root)";
    if (value === undefined || value === null) {
        return [`${at} must not be null`];
    }
    if (schema.intOrString) {
        return Number.isInteger(value) || typeof value === "string" ? [] : [`${at} must be an integer or a string`];
    }
    const actual = Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
    if (schema.type && actual !== schema.type && !(schema.type === "number" && actual === "integer")) {
        return [`${at} must be ${schema.type}`];
    }
    const problems: string[] = [];
    if (schema.enum && !schema.enum.includes(value)) {
        problems.push(`${at} must be one of ${schema.enum.join(", ")}`);
    }
    if (typeof value === "string") {
        if (schema.pattern && !new RegExp(schema.pattern).test(value)) {
            problems.push(`${at} must match ${schema.pattern}`);
        }
        if (schema.minLength !== undefined && value.length < schema.minLength) {
            problems.push(`${at} must have at least ${schema.minLength} characters`);
        }
    }
    if (Array.isArray(value)) {
        if (schema.minItems !== undefined && value.length < schema.minItems) {
            problems.push(`${at} must have at least ${schema.minItems} items`);
        }
        if (schema.items) {
            value.forEach((item, i) => problems.push(...jsonSchemaProblems(item, schema.items!, `${path}[${i}]`)));
        }
    } else if (typeof value === "object") {
        const object = value as Record<string, unknown>;
        for (const field of schema.required ?? []) {
            if (!(field in object)) {
                problems.push(`${path ? `${path}.` : ""}${field} is required`);
            }
        }
        for (const [field, fieldValue] of Object.entries(object)) {
            const fieldPath = path ? `${path}.${field}` : field;
            const fieldSchema = schema.properties?.[field];
            if (fieldSchema) {
                problems.push(...jsonSchemaProblems(fieldValue, fieldSchema, fieldPath));
            } else if (schema.additionalProperties === false) {
                problems.push(`${fieldPath} is not a known field`);
            } else if (typeof schema.additionalProperties === "object") {
                problems.push(...jsonSchemaProblems(fieldValue, schema.additionalProperties, fieldPath));
            }
        }
    }
    return problems;
}

const STRING: JsonSchema = { type: "string" };
const STRING_MAP: JsonSchema = { type: "object", additionalProperties: STRING };
/** A Kubernetes label selector (metav1.LabelSelector). */
const LABEL_SELECTOR: JsonSchema = {
    type: "object",
    additionalProperties: false,
    properties: {
        matchLabels: STRING_MAP,
        matchExpressions: {
            type: "array",
            items: {
                type: "object",
                required: ["key", "operator"],
                additionalProperties: false,
                properties: {
                    key: STRING,
                    operator: { type: "string", enum: ["In", "NotIn", "Exists", "DoesNotExist"] },
                    values: { type: "array", items: STRING },
                },
            },
        },
    },
};
/** Prometheus durations as the GMP CRD's pattern states them, e.g. 30s, 1m. */
const DURATION: JsonSchema = {
    type: "string",
    pattern: "^((([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?|0)$",
};
const OBJECT_META: JsonSchema = {
    type: "object",
    required: ["name"],
    properties: {
        name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
        namespace: { type: "string", minLength: 1 },
        labels: STRING_MAP,
        annotations: STRING_MAP,
    },
};

/**
 * Schemas of the custom resources the program creates, which kubernetes-models does not know: the fields the
 * program sets, their types and what the CRD requires. PodMonitoring: Managed Service for Prometheus'
 * monitoring.googleapis.com/v1 CRD (GoogleCloudPlatform/prometheus-engine, PodMonitoringSpec: selector and
 * endpoints required, each endpoint's port by name or number, interval and timeout as Prometheus durations).
 */
export const CUSTOM_RESOURCE_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
    "monitoring.googleapis.com/v1 PodMonitoring": {
        type: "object",
        required: ["apiVersion", "kind", "metadata", "spec"],
        properties: {
            apiVersion: STRING,
            kind: STRING,
            metadata: OBJECT_META,
            spec: {
                type: "object",
                required: ["selector", "endpoints"],
                additionalProperties: false,
                properties: {
                    selector: LABEL_SELECTOR,
                    endpoints: {
                        type: "array",
                        minItems: 1,
                        items: {
                            type: "object",
                            required: ["port"],
                            additionalProperties: false,
                            properties: {
                                port: { intOrString: true },
                                path: { type: "string", pattern: "^/" },
                                scheme: { type: "string", enum: ["http", "https"] },
                                interval: DURATION,
                                timeout: DURATION,
                                params: { type: "object" },
                            },
                        },
                    },
                    targetLabels: { type: "object" },
                    limits: { type: "object" },
                    filterRunning: { type: "boolean" },
                },
            },
        },
    },
};

/**
 * Problems the API server's OpenAPI schema would reject an object for (types, required fields, enums),
 * via kubernetes-models' generated validators, or for the custom resources in CUSTOM_RESOURCE_SCHEMAS, their
 * schema there; an API group or kind neither knows is a problem too.
 */
export function schemaProblems(manifest: Manifest): string[] {
    const where = `${manifest.kind} ${manifest.metadata?.namespace ?? ""}/${manifest.metadata?.name}`;
    const custom = CUSTOM_RESOURCE_SCHEMAS[`${manifest.apiVersion} ${manifest.kind}`];
    if (custom) {
        return jsonSchemaProblems(manifest, custom).map((problem) => `${where}: ${problem}`);
    }
    const Model = modelOf(manifest);
    if (!Model) {
        return [`${where}: no schema for ${manifest.apiVersion} ${manifest.kind}`];
    }
    try {
        new Model(manifest).validate();
        return [];
    } catch (error) {
        return [`${where}: ${(error as Error).message}`];
    }
}
