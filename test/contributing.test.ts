import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PROJECT_ROOT } from "../offline/harness";

/** The folders CONTRIBUTING.md maps file by file (pipeline/ has its own README, test/ its own names). */
const MAPPED = ["components", "config", "offline", "report", "policy", "bootstrap", "scripts", "engines", "apiserver", "helm-values"];

describe("CONTRIBUTING.md's map", () => {
    it("names every source file of the folders it maps", () => {
        const map = fs.readFileSync(path.join(PROJECT_ROOT, "CONTRIBUTING.md"), "utf8");
        const files = execFileSync("git", ["ls-files", ...MAPPED], { cwd: PROJECT_ROOT, encoding: "utf8" })
            .split("\n")
            .filter((file) => /\.(ts|py|sh|sql|conf|json)$|^scripts\/[^.]+$/.test(file))
            .filter((file) => !/(^|\/)index\.ts$|\.test\.ts$|^engines\/fixtures\/|package\.json$|tsconfig\.json$/.test(file));
        assert.ok(files.length > 80, `${files.length} files`);
        // Helm values files are named by pattern (`<chart>.yaml`), so .yaml is not among the extensions above.
        const unnamed = files.filter((file) => !map.includes(`\`${path.basename(file)}\``));
        assert.deepEqual(unnamed, []);
    });
});
