/**
 * `npm run test:images`: `npm run images:mirror` against two real registries on loopback (distribution's
 * `registry`, source and target) with crane, both built from the Go module proxy by scripts/registry/build.
 * The source holds every pinned tag as a small two-platform image made with crane; nothing leaves the machine.
 * Then `npm run charts:pull -- --push`: the four pinned chart archives into such a registry with helm, and back.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { CHART_VERSIONS, ChartName, pinnedImages } from "../../components/data/charts";
import { chartArchive } from "../../offline/chartArchives";
import { helmBinary } from "../../offline/helm";
import { PullError, pushCharts } from "../pull-charts";
import { MirrorError, mirrorImages, MirrorOptions, RUNBOOK } from "../images-mirror";
import { buildTools, LoopbackRegistry } from "./loopback";
import { lockDigest, storageFileOf } from "../../report/imageStorage";

const PINNED = [...pinnedImages()].sort();
const KAFKA = PINNED.find((image) => image.includes("/kafka:"))!;
const REDIS = PINNED.find((image) => image.includes("/redis:"))!;
const EXPORTER = PINNED.find((image) => image.includes("/redis-exporter:"))!;
/** docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10 -> bitnamilegacy/kafka, 4.0.0-debian-12-r10 */
const split = (image: string) => {
    const [, repository, tag] = /^docker\.io\/(.+):([^:]+)$/.exec(image)!;
    return { repository, tag };
};

describe("npm run images:mirror against real registries on loopback", function () {
    // The first run builds crane and the registry (about 100 s on 2 cores); later ones take them from the cache.
    this.timeout(20 * 60_000);
    let crane: (...args: string[]) => string;
    let tools: { crane: string; registry: string };
    const registries: LoopbackRegistry[] = [];
    let source: LoopbackRegistry;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "images-mirror-"));
    /** The digest each pinned tag has at the source now. */
    const seeded: Record<string, string> = {};

    const started = async () => {
        const registry = await new LoopbackRegistry(tools.registry).start();
        registries.push(registry);
        return registry;
    };
    const lockFile = (name: string, content: Record<string, string> = {}) => {
        const file = path.join(work, `${name}.lock.json`);
        fs.writeFileSync(file, `${JSON.stringify(content)}\n`);
        return file;
    };
    const readLock = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));
    const mirror = (target: string, lock: string, options: Partial<MirrorOptions> = {}) =>
        mirrorImages({
            target: `${target}/mirror`,
            endpoints: { registry: `http://${source.host}` },
            lockFile: lock,
            crane: tools.crane,
            ...options,
        });
    const failure = async (run: Promise<unknown>): Promise<MirrorError> => {
        try {
            await run;
        } catch (error) {
            assert.ok(error instanceof MirrorError, String((error as Error).stack));
            return error;
        }
        assert.fail("the mirror succeeded");
    };
    /** The digest a reference has, or undefined where the registry has none. */
    const digestOf = (reference: string): string | undefined => {
        try {
            return crane("digest", reference);
        } catch {
            return undefined;
        }
    };

    /** Pushes a two-platform index (as Bitnami's tags are) with `content` in its layers to source/<image>. */
    function seed(image: string, content: string): string {
        const { repository, tag } = split(image);
        const at = `${source.host}/${repository}`;
        const children = ["linux/amd64", "linux/arm64"].map((platform) => {
            const dir = fs.mkdtempSync(path.join(work, "layer-"));
            fs.writeFileSync(path.join(dir, "content.txt"), `${content} ${platform}\n`);
            execFileSync("tar", ["-cf", path.join(dir, "layer.tar"), "-C", dir, "content.txt"]);
            const scratch = `${at}:seed-${platform.replace("/", "-")}`;
            crane("append", "-f", path.join(dir, "layer.tar"), "-t", scratch);
            crane("mutate", "--set-platform", platform, scratch);
            return scratch;
        });
        crane("index", "append", ...children.flatMap((child) => ["-m", child]), "-t", `${at}:${tag}`);
        seeded[image] = crane("digest", `${at}:${tag}`);
        return seeded[image];
    }

    before(async () => {
        tools = buildTools("crane", "registry");
        crane = (...args) => execFileSync(tools.crane, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
        source = await started();
        PINNED.forEach((image) => seed(image, image));
    });
    after(async () => {
        await Promise.all(registries.map((r) => r.stop()));
        fs.rmSync(work, { recursive: true, force: true });
    });

    describe("into an empty target", () => {
        let target: LoopbackRegistry;
        let lock: string;
        before(async () => {
            target = await started();
            lock = lockFile("first");
        });

        it("copies every pinned image by its digest, keeping its repository path, and writes the lock", async () => {
            const { outcomes } = await mirror(target.host, lock);
            assert.deepEqual(
                outcomes.map((o) => `${o.image} ${o.action}`),
                PINNED.map((image) => `${image} copied`),
            );
            assert.deepEqual(readLock(lock), seeded);
            assert.deepEqual(Object.keys(readLock(lock)), PINNED, "sorted, every pinned image");
            // What the images occupy, as the target registry itself stores them: every blob file once (distribution's
            // filesystem driver keeps manifests as blobs too, under docker/registry/v2/blobs).
            const blobs = path.join(target.dir, "data", "docker", "registry", "v2", "blobs");
            const stored = (fs.readdirSync(blobs, { recursive: true }) as string[]).filter((file) => path.basename(file) === "data");
            const storage = JSON.parse(fs.readFileSync(storageFileOf(lock), "utf8"));
            assert.deepEqual(storage, {
                lock: lockDigest(seeded),
                bytes: stored.reduce((total, file) => total + fs.statSync(path.join(blobs, file)).size, 0),
                blobs: stored.length,
            });
            for (const image of PINNED) {
                const { repository, tag } = split(image);
                const copied = `${target.host}/mirror/${repository}:${tag}`;
                assert.equal(crane("digest", copied), seeded[image], image);
                // The same index, byte for byte, and each platform's image behind it.
                assert.equal(crane("manifest", copied), crane("manifest", `${source.host}/${repository}@${seeded[image]}`), image);
                for (const platform of ["linux/amd64", "linux/arm64"]) {
                    assert.equal(
                        crane("digest", "--platform", platform, copied),
                        crane("digest", "--platform", platform, `${source.host}/${repository}:${tag}`),
                        `${image} ${platform}`,
                    );
                }
            }
        });

        it("a rerun is a no-op: every image is found at its digest, nothing is sent, the lock is the same", async () => {
            const before = fs.readFileSync(lock, "utf8");
            const mark = target.mark();
            const { outcomes } = await mirror(target.host, lock);
            assert.deepEqual(
                outcomes.map((o) => o.action),
                PINNED.map(() => "present"),
            );
            assert.deepEqual(
                target.requests(mark).filter((r) => !/^(HEAD|GET) /.test(r)),
                [],
                "no upload, no manifest written",
            );
            assert.equal(fs.readFileSync(lock, "utf8"), before);
        });

        it("a tag moved at the source: the lock and the target keep the locked digest, the run fails naming it; --update takes the new one", async () => {
            const old = seeded[KAFKA];
            const moved = seed(KAFKA, "a rebuilt kafka");
            const before = fs.readFileSync(lock, "utf8");
            const error = await failure(mirror(target.host, lock));
            assert.match(error.message, /1 of 15 image\(s\) are not in .* at their locked digest; .* is unchanged/);
            assert.ok(
                error.message.includes(
                    `${KAFKA}: the source's tag now points at ${moved}, not the locked ${old}. Nothing was overwritten: the lock and the target keep ${old}.`,
                ),
                error.message,
            );
            assert.ok(error.message.includes(`run npm run images:mirror -- --to ${target.host}/mirror --update`), error.message);
            assert.equal(fs.readFileSync(lock, "utf8"), before);
            const { repository, tag } = split(KAFKA);
            assert.equal(crane("digest", `${target.host}/mirror/${repository}:${tag}`), old);

            const { outcomes } = await mirror(target.host, lock, { update: true });
            assert.equal(outcomes.find((o) => o.image === KAFKA)?.action, "copied");
            assert.equal(readLock(lock)[KAFKA], moved);
            assert.equal(crane("digest", `${target.host}/mirror/${repository}:${tag}`), moved);
            assert.equal(digestOf(`${target.host}/mirror/${repository}@${old}`), old, "what runs by the old digest still pulls");
        });

        it("a target tag that points at another image is left alone and named", async () => {
            const { repository, tag } = split(REDIS);
            const other = `${target.host}/mirror/${repository}:${tag}`;
            crane("copy", `${source.host}/${split(KAFKA).repository}@${seeded[KAFKA]}`, other);
            const error = await failure(mirror(target.host, lock));
            assert.ok(
                error.message.includes(
                    `${REDIS}: ${target.host}/mirror/${repository}:${tag} points at ${seeded[KAFKA]}, not ${seeded[REDIS]}, and was left alone.`,
                ),
                error.message,
            );
            assert.match(error.message, /gcloud artifacts docker tags delete/);
            assert.equal(crane("digest", other), seeded[KAFKA]);
            // As the message says: the tag deleted, the next run puts the locked image back under it.
            crane("delete", `${target.host}/mirror/${repository}@${seeded[KAFKA]}`);
            const { outcomes } = await mirror(target.host, lock);
            assert.equal(outcomes.find((o) => o.image === REDIS)?.action, "tagged");
            assert.equal(crane("digest", other), seeded[REDIS]);
        });

        it("the day the source no longer has an image, the run still passes: the target holds it at the locked digest", async () => {
            const { repository } = split(EXPORTER);
            crane("delete", `${source.host}/${repository}@${seeded[EXPORTER]}`);
            const { outcomes } = await mirror(target.host, lock);
            const outcome = outcomes.find((o) => o.image === EXPORTER)!;
            assert.equal(outcome.action, "present");
            assert.match(outcome.note ?? "", /the source did not resolve it \(.*404.*\); the target holds the locked sha256:/);
            assert.equal(readLock(lock)[EXPORTER], seeded[EXPORTER]);
        });
    });

    describe("an image the source does not have (after the test above took one away)", () => {
        it("with no lock entry: named, with where to turn; the others are copied; the lock is unchanged", async () => {
            const target = await started();
            const lock = lockFile("missing");
            const error = await failure(mirror(target.host, lock));
            assert.match(error.message, /1 of 15 image\(s\)/);
            assert.ok(error.message.includes(`${EXPORTER}: the source did not resolve it (`), error.message);
            assert.ok(
                error.message.includes(
                    `and the lock has no digest for it, so there is nothing to copy. If the tag is gone for good, see ${RUNBOOK}.`,
                ),
            );
            assert.deepEqual(readLock(lock), {});
            const copied = error.outcomes.filter((o) => o.action === "copied").map((o) => o.image);
            assert.deepEqual(
                copied,
                PINNED.filter((image) => image !== EXPORTER),
            );
        });

        it("locked but in neither registry: named, with where to turn", async () => {
            const target = await started();
            const lock = lockFile("locked", seeded);
            const error = await failure(mirror(target.host, lock));
            assert.ok(
                error.message.includes(`${EXPORTER}: the source (${source.host}) no longer has ${seeded[EXPORTER]} (`) &&
                    error.message.includes(`and the target does not hold it. See ${RUNBOOK}.`),
                error.message,
            );
            assert.deepEqual(readLock(lock), seeded);
        });
    });

    describe("a copy cut off before its manifest", () => {
        it("is named with what to do; the rerun finishes it without sending the layers again", async () => {
            // Put back the image the test above took away.
            seed(EXPORTER, EXPORTER);
            const target = await started();
            // In front of the target: passes everything on, but cuts the connection when kafka's manifests are
            // written, as a lost network or a killed run would after the layers went up.
            let cut = true;
            const kafkaManifests = `/v2/mirror/${split(KAFKA).repository}/manifests/`;
            const proxy = http.createServer((req, res) => {
                if (cut && req.method === "PUT" && req.url!.startsWith(kafkaManifests)) {
                    req.socket.destroy();
                    return;
                }
                const upstream = http.request(
                    { host: "127.0.0.1", port: Number(target.host.split(":")[1]), method: req.method, path: req.url, headers: req.headers },
                    (answer) => {
                        res.writeHead(answer.statusCode!, answer.headers);
                        answer.pipe(res);
                    },
                );
                req.pipe(upstream);
            });
            await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
            const through = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
            try {
                const lock = lockFile("partial");
                const error = await failure(mirror(through, lock));
                assert.match(error.message, /1 of 15 image\(s\)/);
                assert.ok(
                    error.message.includes(
                        `${KAFKA}: copying ${seeded[KAFKA]} to ${through}/mirror/${split(KAFKA).repository}:${split(KAFKA).tag} did not finish: `,
                    ) &&
                        error.message.includes(
                            `The target may hold some of its layers but no manifest, so nothing can pull a partial image. Run npm run images:mirror -- --to ${through}/mirror again: layers already there are not sent twice.`,
                        ),
                    error.message,
                );
                assert.deepEqual(readLock(lock), {});
                const { repository, tag } = split(KAFKA);
                assert.equal(digestOf(`${target.host}/mirror/${repository}:${tag}`), undefined, "no manifest in the target");
                const layers = JSON.parse(crane("manifest", "--platform", "linux/amd64", `${source.host}/${repository}@${seeded[KAFKA]}`)).layers;
                const blob = await fetch(`http://${target.host}/v2/mirror/${repository}/blobs/${layers[0].digest}`, { method: "HEAD" });
                assert.equal(blob.status, 200, "the layers went up before the cut");

                cut = false;
                const mark = target.mark();
                const { outcomes } = await mirror(through, lock);
                assert.equal(outcomes.find((o) => o.image === KAFKA)?.action, "copied");
                assert.deepEqual(
                    outcomes.filter((o) => o.action !== "present").map((o) => o.image),
                    [KAFKA],
                );
                assert.equal(crane("digest", `${target.host}/mirror/${repository}:${tag}`), seeded[KAFKA]);
                assert.deepEqual(
                    target.requests(mark).filter((r) => r.startsWith(`POST /v2/mirror/${repository}/blobs/uploads`)),
                    [],
                    "no layer or config sent again",
                );
                assert.deepEqual(readLock(lock), seeded);
            } finally {
                proxy.closeAllConnections();
                await new Promise((resolve) => proxy.close(resolve));
            }
        });
    });
    describe("npm run charts:pull -- --push", () => {
        const CHARTS = Object.keys(CHART_VERSIONS) as ChartName[];
        const archives = Object.fromEntries(CHARTS.map((chart) => [chart, chartArchive(chart)])) as Record<ChartName, string>;
        const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
        let registry: LoopbackRegistry;
        let repository: string;
        before(async () => {
            registry = await started();
            repository = `oci://${registry.host}/bitnami-dev/bitnamicharts`;
        });

        it("pushes the four pinned archives with helm push, and helm pulls back the same bytes of the same version", () => {
            const helm = helmBinary();
            const pushed = pushCharts(helm, repository, archives, { plainHttp: true });
            assert.deepEqual(
                pushed,
                CHARTS.map((chart) => `${repository}/${chart}:${CHART_VERSIONS[chart]}`),
            );
            const back = fs.mkdtempSync(path.join(work, "charts-back-"));
            for (const chart of CHARTS) {
                const version = CHART_VERSIONS[chart];
                execFileSync(helm, ["pull", `${repository}/${chart}`, "--version", version, "--plain-http", "--destination", back], {
                    stdio: "pipe",
                });
                assert.equal(sha256(path.join(back, `${chart}-${version}.tgz`)), sha256(archives[chart]), `${chart} ${version}`);
                const shown = execFileSync(helm, ["show", "chart", `${repository}/${chart}`, "--version", version, "--plain-http"], {
                    encoding: "utf8",
                });
                assert.match(shown, new RegExp(`^name: ${chart}$`, "m"));
                assert.match(shown, new RegExp(`^version: ${version.replace(/\./g, "\\.")}$`, "m"));
            }
        });

        it("a rerun pushes the same manifests again: every chart keeps its digest", () => {
            const at = (chart: ChartName) => `${registry.host}/bitnami-dev/bitnamicharts/${chart}:${CHART_VERSIONS[chart]}`;
            const before = CHARTS.map((chart) => crane("digest", at(chart)));
            pushCharts(helmBinary(), repository, archives, { plainHttp: true });
            assert.deepEqual(
                CHARTS.map((chart) => crane("digest", at(chart))),
                before,
            );
        });

        it("names the archive and the repository when the push fails, and refuses a repository that is no oci:// one", () => {
            assert.throws(
                () => pushCharts(helmBinary(), `oci://127.0.0.1:1/bitnamicharts`, archives, { plainHttp: true }),
                (error: Error) =>
                    error instanceof PullError &&
                    error.message.startsWith(`helm push ${path.basename(archives.kafka)} oci://127.0.0.1:1/bitnamicharts failed: `) &&
                    error.message.endsWith("(for Artifact Registry, log in once with gcloud auth configure-docker <region>-docker.pkg.dev)"),
            );
            assert.throws(
                () => pushCharts(helmBinary(), `${registry.host}/bitnamicharts`, archives),
                /--push ".*": an OCI repository such as oci:\/\//,
            );
        });
    });
});
