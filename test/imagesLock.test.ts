import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { CHART_VERSIONS, ChartName, IMAGES_LOCK_FILE, pinnedImages, readImageLock } from "../components/data";
import { imageRefs } from "../offline/chartReference";
import { ConfigOverrides, ofType, runStack, runStackAfresh, StackRun } from "../offline/harness";
import { Manifest, podTemplate, renderStack, WORKLOAD_KINDS } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";
import { values } from "../offline/stackQueries";
import { lockImages, MANIFEST_TYPES, RegistryEndpoints, resolveDigest } from "../scripts/images-lock";
import { digestOf, fullLock, withLock } from "../offline/imageLock";

const CHARTS = Object.keys(CHART_VERSIONS) as ChartName[];
const SHOWN_LOCK = "helm-values/images.lock.json";

/** Every container image of a workload, init containers included. */
function containerImages(workload: Manifest): { name: string; image: string }[] {
    const spec = podTemplate(workload).spec;
    return [...(spec.initContainers ?? []), ...spec.containers].map((c: any) => ({
        name: `${workload.kind} ${workload.metadata.name}/${c.name}`,
        image: c.image,
    }));
}

const bitnamiImages = (objects: readonly Manifest[]) =>
    objects
        .filter((o) => WORKLOAD_KINDS.includes(o.kind))
        .flatMap(containerImages)
        .filter((c) => c.image.includes("/bitnamilegacy/"));

describe("images by digest (npm run images:lock)", () => {
    describe("the resolver, against a fake registry", () => {
        const INDEX = "application/vnd.oci.image.index.v1+json";
        const LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
        /** repository:tag -> what the fake registry serves: media type, and whether HEAD carries the digest header. */
        const served: Record<string, { type: string; body: string; headDigest?: boolean; digest?: string }> = {
            "bitnamilegacy/kafka:4.0.0-debian-12-r10": { type: INDEX, body: '{"oci":"index"}', headDigest: true },
            "bitnamilegacy/os-shell:12-debian-12-r51": { type: LIST, body: '{"docker":"list"}', headDigest: true },
            "bitnamilegacy/spark:4.0.0-debian-12-r20": { type: INDEX, body: '{"no":"header on HEAD"}', headDigest: false },
            "bitnamilegacy/redis:0.0.0-malformed": { type: INDEX, body: "{}", headDigest: true, digest: "sha256:not-hex" },
        };
        const requests: { method: string; url: string; accept?: string; authorization?: string }[] = [];
        let server: http.Server;
        let endpoints: RegistryEndpoints;
        /** The token the token endpoint hands out, and the one the registry accepts. */
        let handedOut = "";
        const accepted = (repository: string) => `token-for-${repository}`;

        before(async () => {
            server = http.createServer((req, res) => {
                const url = new URL(req.url!, "http://127.0.0.1");
                requests.push({ method: req.method!, url: req.url!, accept: req.headers.accept, authorization: req.headers.authorization });
                if (url.pathname === "/token") {
                    const [, repository] = /^repository:(.+):pull$/.exec(url.searchParams.get("scope") ?? "") ?? [];
                    const ok = repository && url.searchParams.get("service") === "registry.docker.io";
                    res.writeHead(ok ? 200 : 400, { "Content-Type": "application/json" });
                    res.end(ok ? JSON.stringify({ token: handedOut || accepted(repository) }) : "{}");
                    return;
                }
                const [, repository, tag] = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname) ?? [];
                if (req.headers.authorization !== `Bearer ${accepted(repository)}`) {
                    res.writeHead(401, { "WWW-Authenticate": `Bearer realm="http://127.0.0.1/token",service="registry.docker.io"` });
                    res.end();
                    return;
                }
                const manifest = served[`${repository}:${decodeURIComponent(tag)}`];
                const acceptedTypes = (req.headers.accept ?? "").split(",").map((t) => t.trim());
                // Like Docker Hub: an index is not served to a client that does not accept its media type.
                if (!manifest || !acceptedTypes.includes(manifest.type)) {
                    res.writeHead(404, { "Content-Type": "application/json" });
                    res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
                    return;
                }
                const digest = manifest.digest ?? digestOf(manifest.body);
                res.writeHead(200, {
                    "Content-Type": manifest.type,
                    "Content-Length": Buffer.byteLength(manifest.body),
                    ...(req.method === "GET" || manifest.headDigest ? { "Docker-Content-Digest": digest } : {}),
                });
                res.end(req.method === "HEAD" ? undefined : manifest.body);
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
            endpoints = { registry: base, auth: `${base}/token`, service: "registry.docker.io" };
        });
        after(() => new Promise<void>((resolve) => server.close(() => resolve())));
        beforeEach(() => {
            requests.length = 0;
            handedOut = "";
        });

        it("resolves an OCI index from HEAD's Docker-Content-Digest, with an anonymous pull token for the repository", async () => {
            assert.equal(await resolveDigest("docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10", endpoints), digestOf('{"oci":"index"}'));
            const [token, head] = requests;
            assert.match(token.url, /^\/token\?service=registry\.docker\.io&scope=repository%3Abitnamilegacy%2Fkafka%3Apull$/);
            assert.equal(head.method, "HEAD");
            assert.equal(head.authorization, "Bearer token-for-bitnamilegacy/kafka");
            assert.equal(requests.length, 2, "HEAD is enough when it carries the digest");
        });

        it("asks for both an OCI index and a Docker manifest list, and resolves either", async () => {
            assert.equal(await resolveDigest("docker.io/bitnamilegacy/os-shell:12-debian-12-r51", endpoints), digestOf('{"docker":"list"}'));
            const accept = requests[1].accept!.split(",").map((t) => t.trim());
            assert.deepEqual(accept.slice(0, 2), [INDEX, LIST]);
            assert.deepEqual(accept, MANIFEST_TYPES);
        });

        it("falls back to GET when HEAD carries no digest", async () => {
            assert.equal(await resolveDigest("docker.io/bitnamilegacy/spark:4.0.0-debian-12-r20", endpoints), digestOf('{"no":"header on HEAD"}'));
            assert.deepEqual(
                requests.map((r) => r.method),
                ["GET", "HEAD", "GET"],
            );
        });

        it("refuses a tag the registry does not have (404), naming the image", async () => {
            await assert.rejects(
                resolveDigest("docker.io/bitnamilegacy/kafka:9.9.9-gone", endpoints),
                /docker\.io\/bitnamilegacy\/kafka:9\.9\.9-gone: .* has no such manifest \(404\)/,
            );
        });

        it("refuses when the registry does not accept the token (401), naming the image", async () => {
            handedOut = "a-token-the-registry-refuses";
            await assert.rejects(
                resolveDigest("docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10", endpoints),
                /docker\.io\/bitnamilegacy\/kafka:4\.0\.0-debian-12-r10: .* refused the pull token \(401 Unauthorized\)/,
            );
        });

        it("answers 401 to a request without a token, so the token is what admits the resolver", async () => {
            const response = await fetch(`${endpoints.registry}/v2/bitnamilegacy/kafka/manifests/4.0.0-debian-12-r10`, {
                method: "HEAD",
                headers: { Accept: MANIFEST_TYPES.join(", ") },
            });
            assert.equal(response.status, 401);
            assert.match(String(response.headers.get("www-authenticate")), /^Bearer realm=/);
        });

        it("refuses a malformed digest from the registry, and images outside Docker Hub", async () => {
            await assert.rejects(resolveDigest("docker.io/bitnamilegacy/redis:0.0.0-malformed", endpoints), /reported the digest "sha256:not-hex"/);
            await assert.rejects(resolveDigest("quay.io/bitnami/kafka:4.0.0", endpoints), /not a Docker Hub image reference/);
        });

        it("writes nothing when any pinned image does not resolve", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "images-lock-"));
            const lockFile = path.join(dir, "images.lock.json");
            fs.writeFileSync(lockFile, "{}\n");
            try {
                await assert.rejects(lockImages({ lockFile, endpoints }), (error: Error) => {
                    assert.match(error.message, /image\(s\) did not resolve; .*images\.lock\.json is unchanged/);
                    assert.match(error.message, /docker\.io\/bitnamilegacy\/airflow:3\.0\.5-debian-12-r0: .*404/);
                    return true;
                });
                assert.equal(fs.readFileSync(lockFile, "utf8"), "{}\n");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("writes every pinned image, and only those, with the digest the registry reported", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "images-lock-"));
            const lockFile = path.join(dir, "images.lock.json");
            fs.writeFileSync(lockFile, JSON.stringify({ "docker.io/bitnamilegacy/kafka:3.0.0-old": digestOf("old") }));
            const original = { ...served };
            try {
                for (const image of pinnedImages()) {
                    const [, key] = /^docker\.io\/(.+)$/.exec(image)!;
                    served[key] ??= { type: LIST, body: JSON.stringify({ image }), headDigest: true };
                }
                const lock = await lockImages({ lockFile, endpoints });
                const written = JSON.parse(fs.readFileSync(lockFile, "utf8"));
                assert.deepEqual(written, lock);
                assert.deepEqual(Object.keys(written), [...pinnedImages()].sort(), "every pinned image, sorted; the stale entry is gone");
                for (const [image, digest] of Object.entries(written)) {
                    assert.equal(digest, digestOf(served[image.replace(/^docker\.io\//, "")].body), image);
                }
                assert.ok(requests.filter((r) => r.url.startsWith("/v2/")).every((r) => r.authorization?.startsWith("Bearer token-for-")));
            } finally {
                for (const key of Object.keys(served)) {
                    delete served[key];
                }
                Object.assign(served, original);
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    describe("the lock", () => {
        it("as committed, holds only pinned images, each with a well-formed digest", () => {
            // Whatever `npm run images:lock` last wrote (empty while the registry is out of reach): never a stray entry.
            const committed: Record<string, string> = JSON.parse(fs.readFileSync(IMAGES_LOCK_FILE, "utf8"));
            const pinned = pinnedImages();
            for (const [image, digest] of Object.entries(committed)) {
                assert.ok(pinned.has(image), `${image} is no pinned image`);
                assert.match(digest, /^sha256:[0-9a-f]{64}$/, image);
            }
            assert.deepEqual(readImageLock().problems, []);
            assert.equal(readImageLock().digests.size, Object.keys(committed).length);
        });

        it("knows every image block of helm-values/*.yaml, subchart blocks included", () => {
            const pinned = pinnedImages();
            assert.ok(pinned.has("docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10"));
            assert.ok(pinned.has("docker.io/bitnamilegacy/redis-sentinel:8.2.1-debian-12-r0"), "airflow's redis subchart");
            assert.ok(
                pinned.has("docker.io/bitnamilegacy/os-shell:12-debian-12-r50") && pinned.has("docker.io/bitnamilegacy/os-shell:12-debian-12-r51"),
            );
            assert.ok([...pinned].every((image) => /^docker\.io\/bitnamilegacy\/[a-z0-9-]+:[\w.-]+$/.test(image)));
        });
    });

    describe("the program", () => {
        it("with the committed lock: each Bitnami image block carries its image's locked digest, or none when it has none", async () => {
            // A stack that names its registry, so the committed lock may lack digests (one on its own repository is refused then: test/config.test.ts).
            const committed = fs.readFileSync(IMAGES_LOCK_FILE, "utf8");
            const run = await withLock(committed, () => runStackAfresh("dev", { imageRegistry: "docker.io" }));
            assert.equal(run.error, undefined, run.error?.stack);
            const { digests } = readImageLock();
            for (const chart of CHARTS) {
                const blocks = imageRefs(values(run, chart)).filter((ref) => ref.repository.startsWith("bitnamilegacy/"));
                assert.ok(blocks.length > 0);
                for (const block of blocks) {
                    const at = block.path.split(".").filter(Boolean);
                    const value = at.reduce((v: any, key) => v[key], values(run, chart));
                    assert.equal(value.digest, digests.get(`docker.io/${block.repository}:${block.tag}`), `${chart} ${block.path}`);
                }
            }
        });

        /** Every evaluation reads a full lock unless told otherwise (offline/harness.ts). */
        const lockedRun = (stack: string, overrides: ConfigOverrides) => runStack(stack, overrides);

        for (const [variant, stack, overrides, registry] of [
            ["the stack's own repository", "dev", {}, "us-central1-docker.pkg.dev/acme-streaming-test/bitnami-dev"],
            ["Docker Hub", "dev", { imageRegistry: "docker.io" }, "docker.io"],
            ["imageRegistry", "dev", { imageRegistry: "mirror.example.com/dockerhub" }, "mirror.example.com/dockerhub"],
            ["dockerHubMirror", "dev", { dockerHubMirror: true }, "us-central1-docker.pkg.dev/acme-streaming-test/dockerhub-dev"],
            ["local", "local", {}, "docker.io"],
        ] as [string, string, ConfigOverrides, string][]) {
            it(`${variant}: sets each block's locked digest through image.digest, keeping the tag, from ${registry}`, async () => {
                const run = await lockedRun(stack, overrides);
                assert.equal(run.error, undefined, run.error?.stack);
                const lock = fullLock();
                let blocks = 0;
                for (const chart of CHARTS) {
                    const chartValues = values(run, chart);
                    for (const ref of imageRefs(chartValues).filter((r) => r.repository.startsWith("bitnamilegacy/"))) {
                        const block = ref.path
                            .split(".")
                            .filter(Boolean)
                            .reduce((v: any, key) => v[key], chartValues);
                        assert.equal(block.registry, registry, `${chart} ${ref.path}`);
                        // The lock is keyed by where helm-values pulls from; the digest names the same manifest on the mirror.
                        assert.equal(block.digest, lock[`docker.io/${ref.repository}:${ref.tag}`], `${chart} ${ref.path}`);
                        blocks++;
                    }
                }
                assert.ok(blocks >= 15, `${blocks} blocks`);
                for (const built of ofType(run, TYPES.image)) {
                    const base = built.inputs.build.args.BASE_IMAGE;
                    const [, key] = /^.+?\/(bitnamilegacy\/.+)@sha256:.*$/.exec(base) ?? [];
                    assert.equal(base, `${registry}/${key}@${lock[`docker.io/${key}`]}`, "pipeline images build on the locked digest");
                }
            });
        }

        for (const [problem, lock, message] of [
            [
                "an entry for a tag that is no longer pinned",
                { ...fullLock(), "docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r9": digestOf("old") },
                /helm-values\/images\.lock\.json: docker\.io\/bitnamilegacy\/kafka:4\.0\.0-debian-12-r9 is not an image pinned in helm-values\/\*\.yaml; run `npm run images:lock`/,
            ],
            [
                "a malformed digest",
                { "docker.io/bitnamilegacy/spark:4.0.0-debian-12-r20": "sha256:ABC" },
                /helm-values\/images\.lock\.json: docker\.io\/bitnamilegacy\/spark:4\.0\.0-debian-12-r20 has the digest "sha256:ABC", not sha256:<64 lowercase hex digits>/,
            ],
            [
                "a digest that is not a string",
                { "docker.io/bitnamilegacy/spark:4.0.0-debian-12-r20": 42 },
                /spark:4\.0\.0-debian-12-r20 has the digest 42/,
            ],
            ["a file that is not JSON", "{ not json", /helm-values\/images\.lock\.json: not readable as JSON/],
            ["a list instead of an object", "[]", /helm-values\/images\.lock\.json: must be a JSON object of image -> digest/],
        ] as [string, unknown, RegExp][]) {
            it(`refuses ${problem} before any resource is created`, async () => {
                const run: StackRun = await withLock(lock, () => runStackAfresh("dev", {}));
                assert.equal(run.error?.name, "ConfigError", run.error?.stack);
                assert.match(run.error!.message, message);
                assert.ok(run.error!.message.includes(SHOWN_LOCK));
                assert.deepEqual(
                    run.resources.filter((r) => r.custom),
                    [],
                );
            });
        }
    });

    describe("the rendered manifests", () => {
        it("with the empty lock: every Bitnami container image of a stack that names its registry runs by its tag, as before", async () => {
            for (const [stack, overrides] of [
                ["dev", { imageRegistry: "docker.io" }],
                ["local", {}],
            ] as [string, ConfigOverrides][]) {
                // chartRepository at its default only keeps these renders apart from the shared ones, which read a full lock.
                const images = bitnamiImages((await withLock({}, () => renderStack(stack, { ...overrides, chartRepository: "" }))).objects);
                assert.ok(images.length > 10);
                for (const { name, image } of images) {
                    assert.match(image, /^[^@]+\/bitnamilegacy\/[a-z0-9-]+:[\w.-]+$/, `${stack} ${name}`);
                }
            }
        });

        // The lock every evaluation reads unless told otherwise is full (offline/harness.ts).
        for (const [stack, overrides] of [
            ["dev", { imageRegistry: "mirror.images-lock.test/dockerhub" }],
            ["local", { imageRegistry: "docker.io" }],
        ] as [string, ConfigOverrides][]) {
            it(`${stack} ${JSON.stringify(overrides)} with a full lock: every Bitnami container image renders as ...@sha256:...`, async () => {
                const rendered = await renderStack(stack, overrides);
                const lock = fullLock();
                const digests = new Set(Object.values(lock));
                const images = bitnamiImages(rendered.objects);
                assert.ok(images.length > 10);
                const registry = String(overrides.imageRegistry);
                for (const { name, image } of images) {
                    const [, at, digest] = /^(.+)@(sha256:[0-9a-f]{64})$/.exec(image) ?? [];
                    assert.ok(digest && digests.has(digest), `${stack} ${name}: ${image} is not by a locked digest`);
                    assert.ok(at.startsWith(`${registry}/bitnamilegacy/`), `${stack} ${name}: ${image}`);
                    const locked = Object.keys(lock).find((key) => lock[key] === digest)!;
                    const repository = locked.replace(/^docker\.io\//, "").replace(/:[^:]+$/, "");
                    assert.ok(
                        at === `${registry}/${repository}` || at === `${registry}/${locked.replace(/^docker\.io\//, "")}`,
                        `${name}: ${image} is ${locked}`,
                    );
                }
                assert.ok(
                    images.filter((i) => i.name.startsWith("Job postgresql-schema")).every((i) => i.image.includes("@sha256:")),
                    "the schema Job runs the locked PostgreSQL image",
                );
            });
        }
    });
});
