import { strict as assert } from "assert";
import { RecordedResource } from "../offline/harness";
import { evaluated } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

/** Inputs that name a Google Cloud resource in its project; a resource that sets none is auto-named with a random suffix. */
const NAMING_INPUTS = ["name", "repositoryId", "accountId", "secretId", "bucketId", "keyRingId", "datasetId"];

/** Where two stacks' resources would be the same cloud object: type, project, location and every naming input. */
function physicalName(resource: RecordedResource): string | undefined {
    const names = NAMING_INPUTS.filter((key) => resource.inputs[key] !== undefined).map((key) => `${key}=${resource.inputs[key]}`);
    return names.length === 0
        ? undefined
        : // An object is named within its bucket.
          [
              resource.type,
              resource.inputs.project,
              resource.inputs.location ?? resource.inputs.region ?? "",
              resource.inputs.bucket ?? "",
              ...names,
          ].join(" ");
}

describe("dev and prod in one Google Cloud project", () => {
    it("name no Google Cloud resource alike", async () => {
        // Both with every optional Google Cloud resource, in the same project and region.
        const options = { dockerHubMirror: true, "gcp:region": "us-central1" };
        const [dev, prod] = await Promise.all([evaluated("dev", options), evaluated("prod", options)]);
        const named = (run: typeof dev) =>
            new Set(
                run.resources
                    .filter((r) => r.custom && r.type.startsWith("gcp:"))
                    .map(physicalName)
                    .filter(Boolean),
            );
        const devNames = named(dev);
        assert.ok(
            [...devNames].some((n) => n!.startsWith(TYPES.repository)),
            "the check sees the repositories",
        );
        assert.deepEqual(
            [...named(prod)].filter((n) => devNames.has(n)),
            [],
        );
    });

    it("share the project's APIs without ever turning them off on destroy", async () => {
        const dev = await evaluated("dev");
        const apis = dev.resources.filter((r) => r.type === TYPES.projectService);
        assert.ok(apis.length > 0);
        assert.ok(
            apis.every((api) => api.inputs.disableOnDestroy === false),
            "destroying one stack must not disable APIs the other uses",
        );
    });
});
