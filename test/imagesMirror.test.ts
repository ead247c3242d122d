import { strict as assert } from "assert";
import { runbookAnchors } from "../offline/runbook";
import { DOCKER_HUB } from "../scripts/images-lock";
import { checkTarget, mirrorImages, RUNBOOK, sourceHost } from "../scripts/images-mirror";

// What `npm run images:mirror` decides before it touches a registry; the copies themselves are tested against real
// registries on loopback by `npm run test:images` (scripts/registry/mirror.test.ts), which needs Go.
describe("npm run images:mirror, before any registry", () => {
    it("takes the target as a registry with a path, and refuses anything else naming --to and an example", async () => {
        assert.equal(checkTarget("us-central1-docker.pkg.dev/acme/bitnami-prod/"), "us-central1-docker.pkg.dev/acme/bitnami-prod");
        assert.equal(checkTarget("127.0.0.1:5000/mirror"), "127.0.0.1:5000/mirror");
        for (const bad of ["", "us-central1-docker.pkg.dev", "https://us-central1-docker.pkg.dev/acme/repo", "Registry.example/UPPER"]) {
            assert.throws(
                () => checkTarget(bad),
                /^Error: --to ".*": the target registry and path, such as us-central1-docker\.pkg\.dev\/<project>\/<repository> \(the stack's imageRegistry\)$/,
                String(bad),
            );
        }
        assert.throws(() => checkTarget(undefined), /^Error: --to is required: the target registry and path, such as /);
        // Refused before crane is built or a registry asked.
        await assert.rejects(mirrorImages({ target: "docker.io", crane: "/nonexistent/crane" }), /--to "docker\.io"/);
    });

    it("names the source for crane as crane spells it: Docker Hub as index.docker.io, any other by its API's host", () => {
        assert.equal(sourceHost(DOCKER_HUB), "index.docker.io");
        assert.equal(sourceHost({ registry: "http://127.0.0.1:5000" }), "127.0.0.1:5000");
    });

    it("sends a user whose source lost an image to a runbook section that exists", () => {
        const [file, anchor] = RUNBOOK.split("#");
        assert.equal(file, "docs/runbook.md");
        assert.ok(runbookAnchors().has(anchor), `docs/runbook.md has no heading with anchor #${anchor}`);
    });
});
