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

/**
 * Problems the API server's OpenAPI schema would reject an object for (types, required fields, enums),
 * via kubernetes-models' generated validators; an API group or kind it does not know is a problem too.
 */
export function schemaProblems(manifest: Manifest): string[] {
    const Model = modelOf(manifest);
    const where = `${manifest.kind} ${manifest.metadata?.namespace ?? ""}/${manifest.metadata?.name}`;
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
