import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { ofType, RecordedResource, waitsFor } from "../offline/harness";
import { TYPES } from "../offline/resourceTypes";
import { evaluated } from "../offline/stackQueries";
import { admits, podsOf } from "../offline/networkPolicy";
import { restrictedProblems } from "../offline/podSecurity";
import { renderStack } from "../offline/render";

// Checks the GitHub Actions workflows against the repository they run in (scripts, stacks, npm
// scripts, policy pack) and against the rules in docs/ci.md, then runs the CI scripts against fake
// pulumi, npm and kubectl commands. Nothing here needs the network, a cluster or the Pulumi CLI.

const ROOT = path.resolve(__dirname, "..");
const GITHUB_DIR = path.join(ROOT, ".github");
const SCRIPTS_DIR = path.join(GITHUB_DIR, "scripts");

type Dict = Record<string, any>;
interface YamlFile {
    readonly file: string;
    readonly text: string;
    readonly doc: Dict;
}

function readYaml(file: string): YamlFile {
    const text = fs.readFileSync(file, "utf8");
    // parse throws on syntax errors and duplicate keys.
    return { file: path.relative(ROOT, file), text, doc: parse(text) };
}

const workflows: YamlFile[] = fs
    .readdirSync(path.join(GITHUB_DIR, "workflows"))
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => readYaml(path.join(GITHUB_DIR, "workflows", name)));
/** Composite actions of this repository, by the path a step's `uses:` names them with. */
const localActions = new Map<string, YamlFile>(
    fs
        .readdirSync(path.join(GITHUB_DIR, "actions"))
        .map((name) => [`./.github/actions/${name}`, readYaml(path.join(GITHUB_DIR, "actions", name, "action.yml"))]),
);
const workflow = (name: string) => workflows.find((w) => w.file === `.github/workflows/${name}.yml`)!;
const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

/** Stacks with a settings file, and which of them run on GKE (not on a kubeconfig cluster). */
const stackFiles = new Map<string, Dict>(
    fs
        .readdirSync(ROOT)
        .map((name) => /^Pulumi\.(.+)\.yaml$/.exec(name))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => [match[1], parse(fs.readFileSync(path.join(ROOT, match[0]), "utf8"))?.config ?? {}]),
);
const isGkeStack = (stack: string) => stackFiles.get(stack)?.["streaming-platform:clusterTarget"] !== "kubeconfig";
/** The GKE stacks, from the files: CI must preview, deploy and be able to destroy each, and no other. */
const gkeStacks = [...stackFiles.keys()].filter(isGkeStack).sort();

const jobsOf = (w: YamlFile): [string, Dict][] => Object.entries(w.doc.jobs ?? {});
/** A job's steps with those of the local composite actions it uses spliced in. */
function stepsOf(job: Dict): Dict[] {
    return (job.steps ?? []).flatMap((step: Dict) => {
        const local = typeof step.uses === "string" ? localActions.get(step.uses) : undefined;
        return [step, ...(local?.doc.runs?.steps ?? [])];
    });
}
const allSteps = (): Dict[] => [
    ...workflows.flatMap((w) => jobsOf(w).flatMap(([, job]) => job.steps ?? [])),
    ...[...localActions.values()].flatMap((a) => a.doc.runs?.steps ?? []),
];
const runScripts = (): string[] =>
    allSteps()
        .map((s) => s.run)
        .filter((run): run is string => typeof run === "string");
/** A step's shell script without its comment lines. */
const commandsOf = (step: Dict) =>
    String(step.run ?? "")
        .split("\n")
        .filter((line) => !/^\s*#/.test(line))
        .join("\n");
const usesAction = (step: Dict, action: string) => typeof step.uses === "string" && step.uses.split("@")[0] === action;
const pulumiSteps = (job: Dict, command?: string) =>
    stepsOf(job).filter((s) => usesAction(s, "pulumi/actions") && (command === undefined || s.with?.command === command));

/** Values a job's `${{ matrix.stack }}` or `${{ inputs.stack }}` can take, one binding each. */
type Binding = Record<string, string>;
function bindings(w: YamlFile, job: Dict): Binding[] {
    const matrix = job.strategy?.matrix?.stack;
    if (Array.isArray(matrix)) {
        return matrix.map((stack) => ({ "matrix.stack": String(stack) }));
    }
    const options = w.doc.on?.workflow_dispatch?.inputs?.stack?.options;
    if (Array.isArray(options) && JSON.stringify(job).includes("inputs.stack")) {
        return options.map((stack) => ({ "inputs.stack": String(stack) }));
    }
    return [{}];
}
const resolve = (value: unknown, binding: Binding) =>
    String(value).replace(/\$\{\{\s*(matrix\.stack|inputs\.stack)\s*\}\}/g, (whole, key: string) => binding[key] ?? whole);
const isLiteral = (value: string) => /^[\w.-]+$/.test(value);

/** Every stack a job names under a binding: stack inputs, STACK variables and -s/--stack arguments. */
function stacksOf(job: Dict, binding: Binding): string[] {
    const named: unknown[] = [];
    for (const step of stepsOf(job)) {
        named.push(step.with?.["stack-name"], step.with?.stack, step.env?.STACK);
        for (const match of commandsOf(step).matchAll(/(?:^|\s)(?:-s|--stack)(?:\s+|=)["']?([^\s"';]+)/g)) {
            named.push(match[1]);
        }
        for (const match of commandsOf(step).matchAll(
            /\.github\/scripts\/(?:capacity-report|pulumi-ci-stack|pulumi-destroy)\.sh\s+["']?([^\s"']+)/g,
        )) {
            named.push(match[1]);
        }
    }
    const stacks = named
        .filter((v) => v !== undefined && v !== null)
        .map((v) => resolve(v, binding))
        .filter(isLiteral);
    return [...new Set(stacks)];
}

/** Jobs that change a stack: pulumi up or destroy, through the action or a script. */
function deploys(job: Dict): boolean {
    return stepsOf(job).some((s) => ["up", "destroy"].includes(s.with?.command) || /pulumi-destroy\.sh|pulumi (up|destroy)\b/.test(commandsOf(s)));
}
/** [workflow, job id, job, stack, binding] for every GKE stack a deploying job can change. */
function gkeDeployments(): [YamlFile, string, Dict, string, Binding][] {
    return workflows.flatMap((w) =>
        jobsOf(w)
            .filter(([, job]) => deploys(job))
            .flatMap(([id, job]) =>
                bindings(w, job).flatMap((binding) =>
                    stacksOf(job, binding)
                        .filter(isGkeStack)
                        .map((stack) => [w, id, job, stack, binding] as [YamlFile, string, Dict, string, Binding]),
                ),
            ),
    );
}

/** The stacks the jobs of a workflow run a pulumi/actions `command` on, under every binding. */
function stacksCommanded(w: YamlFile, command: string): string[] {
    const stacks = jobsOf(w)
        .filter(([, job]) => pulumiSteps(job, command).length > 0)
        .flatMap(([, job]) =>
            bindings(w, job).flatMap((binding) => pulumiSteps(job, command).map((step) => resolve(step.with?.["stack-name"], binding))),
        );
    return [...new Set(stacks)].sort();
}

/**
 * Stack lists written out in prose in .github ("a GKE stack (dev or prod)"): the composite action's
 * input description and the scripts' headers. [file, the stacks listed] for each.
 */
function proseStackLists(): [string, string[]][] {
    const files = [
        ...workflows,
        ...localActions.values(),
        ...fs
            .readdirSync(SCRIPTS_DIR)
            .map((name) => ({ file: `.github/scripts/${name}`, text: fs.readFileSync(path.join(SCRIPTS_DIR, name), "utf8") })),
    ];
    return files.flatMap(({ file, text }) =>
        [...text.matchAll(/\bGKE stacks?\b[^(\n]*\(([\w-]+(?:,\s*[\w-]+)*(?:,?\s+(?:or|and)\s+[\w-]+)?)\)/g)].map((match): [string, string[]] => [
            file,
            match[1]
                .split(/,\s*|\s+(?:or|and)\s+/)
                .filter(Boolean)
                .sort(),
        ]),
    );
}

/**
 * The policy pack paths a pulumi step runs, as they are in this repository: a path under a checkout of the
 * pull request's base commit (`path:` of an actions/checkout step with `ref: ...pull_request.base.sha`) is
 * that checkout's copy of the same path here.
 */
function assertPolicyPack(step: Dict, job: Dict, where: string): string[] {
    const packs = String(step.with?.policyPacks ?? "")
        .split(/[\n,]/)
        .map((p) => p.trim())
        .filter(Boolean);
    assert.ok(packs.length > 0, `${where}: pulumi ${step.with?.command} must run the policy pack (policyPacks)`);
    const baseCheckouts = stepsOf(job)
        .filter((s) => usesAction(s, "actions/checkout") && /github\.event\.pull_request\.base\.sha/.test(String(s.with?.ref)))
        .map((s) => String(s.with?.path));
    return packs.map((pack) => {
        const base = baseCheckouts.find((dir) => pack.startsWith(`${dir}/`));
        const local = base ? pack.slice(base.length + 1) : pack;
        assert.ok(fs.existsSync(path.join(ROOT, local, "PulumiPolicy.yaml")), `${where}: policyPacks ${pack} has no PulumiPolicy.yaml`);
        return base ? `base:${local}` : local;
    });
}

/** The job's `service-account` input of the gke-stack action: which CI identity it impersonates. */
const identityOf = (job: Dict) =>
    (job.steps as Dict[]).filter((s) => s.uses === "./.github/actions/gke-stack").map((s) => String(s.with?.["service-account"]));

describe("GitHub workflows", () => {
    it("parse, each with triggers and jobs that have steps and a runner", () => {
        assert.deepEqual(
            workflows.map((w) => w.file).sort(),
            ["destroy", "e2e", "preview", "test", "up"].map((n) => `.github/workflows/${n}.yml`),
        );
        for (const w of workflows) {
            assert.ok(w.doc.on && typeof w.doc.on === "object", `${w.file}: no triggers (on)`);
            assert.ok(jobsOf(w).length > 0, `${w.file}: no jobs`);
            for (const [id, job] of jobsOf(w)) {
                assert.ok(job["runs-on"], `${w.file} ${id}: no runs-on`);
                assert.ok(Array.isArray(job.steps) && job.steps.length > 0, `${w.file} ${id}: no steps`);
            }
        }
        for (const [uses, action] of localActions) {
            assert.equal(action.doc.runs?.using, "composite", `${uses}: not a composite action`);
        }
    });

    it("run only scripts and local actions that exist and can run", () => {
        const seen = new Set<string>();
        for (const run of runScripts()) {
            for (const match of run.matchAll(/(?:^|[\s;&|(])(bash\s+)?(?:\.\/)?(\.github\/scripts\/[\w.-]+|\.ci\/run)\b/g)) {
                const [, viaBash, script] = match;
                seen.add(script);
                const file = path.join(ROOT, script);
                assert.ok(fs.existsSync(file), `a run step calls ${script}, which does not exist`);
                assert.ok(viaBash || (fs.statSync(file).mode & 0o111) !== 0, `${script} is run directly but is not executable`);
            }
        }
        for (const script of [
            ".ci/run",
            ".github/scripts/pulumi-ci-stack.sh",
            ".github/scripts/capacity-report.sh",
            ".github/scripts/pulumi-destroy.sh",
            ".github/scripts/e2e-wait-for-ticks.sh",
            ".github/scripts/e2e-diagnostics.sh",
            ".github/scripts/e2e-teardown.sh",
            ".github/scripts/e2e-cni.sh",
            ".github/scripts/e2e-kill-driver.sh",
            ".github/scripts/e2e-check-ticks.sh",
        ]) {
            assert.ok(seen.has(script), `no workflow runs ${script}`);
        }
        for (const step of allSteps().filter((s) => String(s.uses ?? "").startsWith("./"))) {
            assert.ok(localActions.has(step.uses), `${step.uses} is not an action of this repository`);
        }
    });

    it("name only stacks that have a Pulumi.<stack>.yaml", () => {
        const named = new Set<string>();
        for (const w of workflows) {
            for (const option of w.doc.on?.workflow_dispatch?.inputs?.stack?.options ?? []) {
                named.add(String(option));
            }
            for (const [, job] of jobsOf(w)) {
                for (const binding of bindings(w, job)) {
                    Object.values(binding).forEach((stack) => named.add(stack));
                    stacksOf(job, binding).forEach((stack) => named.add(stack));
                }
            }
        }
        // The GKE stacks, which preview, up and destroy name, and e2e's kubeconfig stack.
        assert.ok(
            gkeStacks.every((stack) => named.has(stack)),
            `named: ${[...named].join(", ")}`,
        );
        assert.ok(named.has("local"));
        for (const stack of named) {
            assert.ok(stackFiles.has(stack), `the workflows name stack ${stack}, which has no Pulumi.${stack}.yaml`);
        }
    });

    // Derived from the Pulumi.<stack>.yaml files, not written out: adding, renaming or removing a GKE
    // stack file fails here until preview.yml, up.yml and destroy.yml follow. The workflows keep their
    // literal lists (a matrix and a choice input are read before any file is checked out).
    it("preview, deploy and offer to destroy exactly the GKE stacks that have a Pulumi.<stack>.yaml", () => {
        assert.ok(gkeStacks.length > 0, "no GKE stack file");
        assert.ok(!gkeStacks.includes("local"), "local runs on a kubeconfig cluster");
        const preview = [...stacksCommanded(workflow("preview"), "preview"), ...workflow("preview").doc.jobs.capacity.strategy.matrix.stack];
        const up = stacksCommanded(workflow("up"), "up");
        const destroyed = gkeDeployments()
            .filter(([w]) => w === workflow("destroy"))
            .map(([, , , stack]) => stack);
        const options = (workflow("destroy").doc.on.workflow_dispatch.inputs.stack.options as unknown[]).map(String);
        for (const [what, stacks] of [
            ["preview.yml previews or reports", preview],
            ["up.yml deploys", up],
            ["destroy.yml destroys", destroyed],
            ["destroy.yml offers", options],
        ] as [string, string[]][]) {
            for (const stack of stacks) {
                assert.ok(stackFiles.has(stack), `${what} ${stack}, which has no Pulumi.${stack}.yaml`);
            }
            assert.deepEqual([...new Set(stacks)].sort(), gkeStacks, `${what} ${stacks.join(", ")}; the GKE stack files are ${gkeStacks.join(", ")}`);
        }
    });

    it("list the GKE stacks in the composite action and the scripts as the stack files do", () => {
        const lists = proseStackLists();
        const files = new Set(lists.map(([file]) => file));
        for (const file of [".github/actions/gke-stack/action.yml", ".github/scripts/pulumi-ci-stack.sh", ".github/scripts/pulumi-destroy.sh"]) {
            assert.ok(files.has(file), `${file} no longer says which GKE stacks it serves`);
        }
        for (const [file, stacks] of lists) {
            for (const stack of stacks) {
                assert.ok(stackFiles.has(stack), `${file} names stack ${stack}, which has no Pulumi.${stack}.yaml`);
            }
            assert.deepEqual(stacks, gkeStacks, `${file} lists ${stacks.join(", ")}`);
        }
    });

    it("run only npm scripts that package.json defines", () => {
        const shellFiles = [path.join(ROOT, ".ci", "run"), ...fs.readdirSync(SCRIPTS_DIR).map((f) => path.join(SCRIPTS_DIR, f))];
        const texts = [...runScripts(), ...shellFiles.map((f) => fs.readFileSync(f, "utf8"))];
        const used = new Set<string>();
        for (const text of texts) {
            for (const match of text.matchAll(/\bnpm\s+(?:run(?:-script)?\s+(?:--?[\w-]+\s+)*([\w:.-]+)|(test|start)\b)/g)) {
                used.add(match[1] ?? match[2]);
            }
        }
        assert.ok(used.has("report") && used.has("charts:pull") && used.has("test"), `found only ${[...used].join(", ")}`);
        for (const script of used) {
            assert.ok(packageJson.scripts?.[script], `npm run ${script}: package.json has no script "${script}"`);
        }
    });

    it("pin every action to a commit SHA, with its version in a comment for Dependabot and readers", () => {
        const remote = allSteps()
            .map((s) => s.uses)
            .filter((u): u is string => typeof u === "string" && !u.startsWith("./"));
        assert.ok(remote.length >= 10);
        for (const uses of remote) {
            assert.match(uses, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `${uses} is not pinned to a commit SHA (a tag can be moved)`);
        }
        for (const file of [...workflows, ...localActions.values()]) {
            for (const line of file.text.split("\n").filter((l) => /^\s*(-\s+)?uses:\s+[^.]/.test(l))) {
                assert.match(line, /@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, `${file.file}: ${line.trim()} needs a "# vX.Y.Z" comment`);
            }
        }
    });

    it("install the Pulumi CLI of the same version as @pulumi/pulumi", () => {
        const sdk = packageJson.dependencies["@pulumi/pulumi"];
        const installs = allSteps().filter((s) => usesAction(s, "pulumi/actions") && s.with?.command === undefined);
        assert.ok(installs.length >= 2);
        for (const step of allSteps().filter((s) => usesAction(s, "pulumi/actions") && s.with?.["pulumi-version"] !== undefined)) {
            assert.equal(String(step.with["pulumi-version"]), sdk);
        }
        for (const step of installs) {
            assert.equal(String(step.with?.["pulumi-version"]), sdk, "an install-only pulumi/actions step must pin pulumi-version");
        }
    });

    it("give every job a timeout", () => {
        for (const w of workflows) {
            for (const [id, job] of jobsOf(w)) {
                const minutes = job["timeout-minutes"];
                assert.ok(typeof minutes === "number" && minutes > 0 && minutes <= 180, `${w.file} ${id}: timeout-minutes ${minutes}`);
            }
        }
    });

    it("let e2e's pulumi up outlast the longest chain of Helm timeouts it waits for, and time out every step", async () => {
        const run = await evaluated("local");
        const releases = ofType(run, TYPES.helmRelease);
        // An update waits for each release up to its timeout, after those it depends on.
        const chain = (release: RecordedResource): number =>
            Number(release.inputs.timeout) +
            Math.max(0, ...releases.filter((other) => other !== release && waitsFor(run, release, other)).map(chain));
        const longestMinutes = Math.max(...releases.map(chain)) / 60;
        const [, job] = jobsOf(workflow("e2e"))[0];
        const up = job.steps.find((step: Dict) => step.name === "pulumi up");
        assert.ok(up["timeout-minutes"] > longestMinutes, `pulumi up: ${up["timeout-minutes"]} min, Helm may take ${longestMinutes} min`);
        for (const step of job.steps.filter((step: Dict) => step.run)) {
            assert.ok(step["timeout-minutes"] > 0, `${step.name}: no timeout`);
        }
        const steps = job.steps.reduce((total: number, step: Dict) => total + (step["timeout-minutes"] ?? 0), 0);
        assert.ok(job["timeout-minutes"] >= steps, `the job's ${job["timeout-minutes"]} min end before its steps' ${steps}`);
    });

    it("grant no permission at workflow level and per job only what the job uses", () => {
        for (const w of workflows) {
            const top = w.doc.permissions;
            assert.ok(top !== undefined && typeof top === "object", `${w.file}: no workflow-level permissions`);
            assert.ok(
                Object.values(top).every((level) => level === "read" || level === "none"),
                `${w.file}: workflow-level permissions must be {} or read`,
            );
            for (const [id, job] of jobsOf(w)) {
                const granted: Dict = job.permissions;
                assert.ok(granted !== undefined && typeof granted === "object", `${w.file} ${id}: no job permissions`);
                const steps = stepsOf(job);
                const needs: Dict = {
                    "id-token": steps.some((s) => usesAction(s, "google-github-actions/auth")),
                    "pull-requests": steps.some((s) => usesAction(s, "marocchino/sticky-pull-request-comment") || s.with?.["comment-on-pr"] === true),
                };
                for (const [scope, level] of Object.entries(granted)) {
                    assert.ok(
                        level === "read" || level === "none" || (level === "write" && needs[scope]),
                        `${w.file} ${id}: ${scope}: ${level} is not needed`,
                    );
                }
                for (const scope of Object.keys(needs).filter((s) => needs[s])) {
                    assert.equal(granted[scope], "write", `${w.file} ${id}: needs ${scope}: write`);
                }
            }
        }
    });

    it("preview dev on pull requests as the previewer, skipped for forks, with the base branch's policy pack", () => {
        const w = workflow("preview");
        assert.ok(w.doc.on.pull_request !== undefined);
        assert.deepEqual(Object.keys(w.doc.on), ["pull_request"], "no pull_request_target: it would run with a writable token");
        for (const [id, job] of jobsOf(w)) {
            assert.match(String(job.if), /github\.event\.pull_request\.head\.repo\.full_name\s*==\s*github\.repository/, `${id}: skip forks`);
        }
        const job = w.doc.jobs.preview;
        const [preview] = pulumiSteps(job, "preview");
        assert.ok(preview, "no pulumi preview step");
        assert.equal(preview.with["stack-name"], "dev", "the previewer decrypts dev's key only");
        assert.equal(preview.with["comment-on-pr"], undefined, "the job that runs PR code posts nothing");
        assert.deepEqual(assertPolicyPack(preview, job, "preview.yml preview"), ["base:policy"]);
        assert.deepEqual(identityOf(job), ["${{ vars.GCP_PREVIEWER_SERVICE_ACCOUNT }}"]);
        assert.equal(job.environment, undefined, "an environment would change the OIDC subject from pull_request");
        // Previews take no state lock; they must not queue behind updates in the pulumi-<stack> groups.
        assert.doesNotMatch(String(job.concurrency?.group), /^pulumi-/);
        const steps: Dict[] = job.steps;
        const at = steps.indexOf(preview);
        assert.equal(preview["continue-on-error"], true, "the result is saved for the comment before the job fails");
        const verdict = steps.findIndex((s) => /steps\.preview\.outcome\s*==\s*'failure'/.test(String(s.if)));
        assert.ok(verdict > at && /exit 1/.test(steps[verdict].run), "the job fails after saving a failed preview");
    });

    it("report the capacity of every GKE stack without credentials", () => {
        const job = workflow("preview").doc.jobs.capacity;
        assert.deepEqual([...job.strategy.matrix.stack].sort(), gkeStacks);
        assert.deepEqual(job.permissions, { contents: "read" }, "the report is offline");
        const steps: Dict[] = job.steps;
        const report = steps.findIndex((s) => /capacity-report\.sh/.test(String(s.run)));
        assert.ok(report >= 0 && steps[report]["continue-on-error"] === true, "the capacity report must not stop the job before it is saved");
        const save = steps.findIndex((s) => usesAction(s, "actions/upload-artifact"));
        assert.ok(save > report && /always\(\)|!cancelled\(\)/.test(steps[save].if), "the report is saved whatever its outcome");
        const verdict = steps.findIndex((s) => new RegExp(`steps\\.${steps[report].id}\\.outcome\\s*==\\s*'failure'`).test(String(s.if)));
        assert.ok(verdict > save && /exit 1/.test(steps[verdict].run), "the job fails after saving a report that says it does not fit");
    });

    it("post pull request comments from a job that runs none of the pull request's code", () => {
        const w = workflow("preview");
        const writers = workflows.flatMap((f) =>
            jobsOf(f)
                .filter(([, job]) => job.permissions?.["pull-requests"] === "write")
                .map(([id]) => `${f.file} ${id}`),
        );
        assert.deepEqual(writers, [".github/workflows/preview.yml comment"]);
        const job = w.doc.jobs.comment;
        assert.deepEqual(job.permissions, { "pull-requests": "write" });
        assert.deepEqual([job.needs].flat().sort(), ["capacity", "preview"]);
        assert.match(String(job.if), /!cancelled\(\)|always\(\)/, "failed previews and reports are posted too");
        for (const step of job.steps as Dict[]) {
            assert.ok(step.run === undefined, "no shell step");
            assert.ok(
                usesAction(step, "actions/download-artifact") || usesAction(step, "marocchino/sticky-pull-request-comment"),
                `${step.uses}: only downloads and posts`,
            );
        }
        const headers = (job.steps as Dict[]).filter((s) => usesAction(s, "marocchino/sticky-pull-request-comment")).map((s) => s.with.header);
        assert.deepEqual(headers.sort(), ["preview-dev", ...gkeStacks.map((stack) => `capacity-${stack}`)].sort());
    });

    it("impersonate in each job the one identity bound to it, only with id-token: write", () => {
        const identities = workflows.flatMap((w) =>
            jobsOf(w)
                .filter(([, job]) => identityOf(job).length > 0)
                .map(([id, job]) => `${w.file} ${id} ${identityOf(job).join(" ")} env=${job.environment ?? "-"}`),
        );
        assert.deepEqual(identities.sort(), [
            ".github/workflows/destroy.yml destroy ${{ inputs.stack == 'prod' && vars.GCP_DEPLOYER_SERVICE_ACCOUNT_PROD || vars.GCP_DEPLOYER_SERVICE_ACCOUNT_DEV }} env=${{ inputs.stack }}",
            ".github/workflows/preview.yml preview ${{ vars.GCP_PREVIEWER_SERVICE_ACCOUNT }} env=-",
            ".github/workflows/up.yml dev ${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT_DEV }} env=dev",
            ".github/workflows/up.yml prod ${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT_PROD }} env=prod",
        ]);
        for (const w of workflows) {
            for (const [id, job] of jobsOf(w)) {
                const authenticates = stepsOf(job).some((s) => usesAction(s, "google-github-actions/auth"));
                assert.equal(job.permissions?.["id-token"] === "write", authenticates, `${w.file} ${id}: id-token`);
                assert.ok(!authenticates || job.permissions?.contents === "read", `${w.file} ${id}: contents read only`);
                for (const [scope, level] of Object.entries(job.permissions ?? {})) {
                    assert.ok(
                        !(authenticates && level === "write" && scope !== "id-token"),
                        `${w.file} ${id}: ${scope}: write next to cloud credentials`,
                    );
                }
            }
        }
        // The action reads the identity from its input only, never from a variable of its own.
        const action = localActions.get("./.github/actions/gke-stack")!;
        const auth = (action.doc.runs.steps as Dict[]).find((s) => usesAction(s, "google-github-actions/auth"))!;
        assert.equal(auth.with.service_account, "${{ inputs.service-account }}");
        assert.doesNotMatch(action.text, /vars\./);
    });

    it("require code owners for policy/, bootstrap/, .github/ and Pulumi.prod.yaml, as docs/ci.md says", () => {
        const owners = fs
            .readFileSync(path.join(GITHUB_DIR, "CODEOWNERS"), "utf8")
            .split("\n")
            .filter((line) => line.trim() && !line.startsWith("#"))
            .map((line) => line.trim().split(/\s+/));
        for (const covered of ["/policy/", "/bootstrap/", "/.github/", "/Pulumi.prod.yaml"]) {
            const rule = owners.find(([pattern]) => pattern === covered);
            assert.ok(rule && rule.length > 1 && rule.slice(1).every((owner) => owner.startsWith("@")), `CODEOWNERS: no owner for ${covered}`);
        }
        assert.match(fs.readFileSync(path.join(ROOT, "docs", "ci.md"), "utf8"), /Require review from Code Owners/);
    });

    it("apply the policy pack on every preview and update", () => {
        let checked = 0;
        for (const w of workflows) {
            for (const [id, job] of jobsOf(w)) {
                for (const step of [...pulumiSteps(job, "preview"), ...pulumiSteps(job, "up")]) {
                    assertPolicyPack(step, job, `${w.file} ${id}`);
                    checked++;
                }
            }
        }
        assert.equal(checked, 3);
    });

    it("serialise updates and destroys of a stack and never cancel them", () => {
        const deployments = gkeDeployments();
        // One job per stack in up.yml, named after it; destroy.yml's one job takes the stack as input.
        assert.deepEqual(
            deployments.map(([w, id, , stack]) => `${w.file} ${id} ${stack}`).sort(),
            [
                ...gkeStacks.map((s) => `.github/workflows/destroy.yml destroy ${s}`),
                ...gkeStacks.map((s) => `.github/workflows/up.yml ${s} ${s}`),
            ].sort(),
        );
        for (const [w, id, job, stack, binding] of deployments) {
            assert.equal(resolve(job.concurrency?.group, binding), `pulumi-${stack}`, `${w.file} ${id}`);
            assert.equal(job.concurrency?.["cancel-in-progress"], false, `${w.file} ${id}`);
        }
    });

    it("change dev only in the dev environment", () => {
        const dev = gkeDeployments().filter(([, , , stack]) => stack === "dev");
        assert.equal(dev.length, 2);
        for (const [w, id, job, , binding] of dev) {
            const environment = typeof job.environment === "string" ? job.environment : job.environment?.name;
            assert.equal(resolve(environment, binding), "dev", `${w.file} ${id}`);
        }
    });

    it("change prod only in the prod environment", () => {
        const prod = gkeDeployments().filter(([, , , stack]) => stack === "prod");
        assert.equal(prod.length, 2);
        for (const [w, id, job, , binding] of prod) {
            const environment = typeof job.environment === "string" ? job.environment : job.environment?.name;
            assert.equal(resolve(environment, binding), "prod", `${w.file} ${id}`);
        }
    });

    it("deploy main to dev, then to prod", () => {
        const w = workflow("up");
        assert.deepEqual(w.doc.on.push.branches, ["main"]);
        assert.equal(w.doc.jobs.dev.if, "github.ref == 'refs/heads/main'");
        assert.deepEqual([w.doc.jobs.prod.needs].flat(), ["dev"]);
    });

    it("destroy only after the stack name was typed again", () => {
        const w = workflow("destroy");
        const inputs = w.doc.on.workflow_dispatch.inputs;
        assert.equal(inputs.stack.type, "choice");
        assert.deepEqual([...inputs.stack.options].map(String).sort(), gkeStacks);
        assert.ok(inputs.confirm.type === "string" && inputs.confirm.required === true);
        const [[, destroy]] = jobsOf(w).filter(([, job]) => deploys(job));
        const guards = [destroy.needs].flat().map((id: string) => w.doc.jobs[id]);
        assert.ok(
            guards.some(
                (guard) =>
                    /inputs\.confirm/.test(JSON.stringify(guard)) && /inputs\.stack/.test(JSON.stringify(guard)) && !guard["continue-on-error"],
            ),
            "the destroying job must need a job that compares inputs.confirm with inputs.stack",
        );
        const steps = stepsOf(destroy).map((s) => String(s.run ?? ""));
        const prepare = steps.findIndex((run) => run.includes("pulumi-ci-stack.sh"));
        assert.ok(prepare >= 0 && prepare < steps.findIndex((run) => run.includes("pulumi-destroy.sh")));
    });

    it("refer only to inputs that the workflow or action declares", () => {
        const files: [YamlFile, Dict][] = [
            ...workflows.map((w): [YamlFile, Dict] => [w, { ...w.doc.on?.workflow_dispatch?.inputs, ...w.doc.on?.workflow_call?.inputs }]),
            ...[...localActions.values()].map((a): [YamlFile, Dict] => [a, a.doc.inputs ?? {}]),
        ];
        for (const [file, declared] of files) {
            for (const match of file.text.matchAll(/\binputs\.([A-Za-z_][\w-]*)/g)) {
                assert.ok(match[1] in declared, `${file.file} uses inputs.${match[1]}, which it does not declare`);
            }
        }
    });

    it("never paste user-controlled text into a shell script", () => {
        for (const run of runScripts()) {
            for (const match of run.matchAll(/\$\{\{([^}]*)\}\}/g)) {
                assert.doesNotMatch(
                    match[1],
                    /inputs\.|github\.event\.|github\.head_ref/,
                    `pass ${match[0]} through env: instead of pasting it into the script`,
                );
            }
        }
    });

    it("read only the variables and secrets docs/ci.md documents", () => {
        const docs = fs.readFileSync(path.join(ROOT, "docs", "ci.md"), "utf8");
        const texts = [...workflows, ...localActions.values()].map((f) => f.text).join("\n");
        const names = [...texts.matchAll(/\b(vars|secrets)\.([A-Za-z_]\w*)/g)].map((m) => m[2]);
        assert.ok(names.includes("GCP_WORKLOAD_IDENTITY_PROVIDER"));
        for (const name of new Set(names)) {
            assert.ok(docs.includes(`\`${name}\``), `docs/ci.md does not document ${name}`);
        }
    });

    it("run e2e on a kind cluster whose context the local stack deploys to, and always tear it down", () => {
        const w = workflow("e2e");
        assert.ok(w.doc.on.schedule && w.doc.on.workflow_dispatch !== undefined);
        const [[, job]] = jobsOf(w);
        const steps: Dict[] = job.steps;
        const kind = steps.find((s) => usesAction(s, "helm/kind-action"));
        assert.equal(`kind-${kind?.with?.cluster_name}`, stackFiles.get("local")?.["streaming-platform:kubeContext"]);
        assert.ok(job.env?.PULUMI_CONFIG_PASSPHRASE, "the local stack's passphrase");
        const at = (pattern: RegExp, from = 0) => steps.findIndex((s, i) => i >= from && pattern.test(String(s.run ?? "")));
        const [cni, up, wait, kill, check, diagnose, teardown] = [
            /e2e-cni\.sh/,
            /pulumi up --stack local/,
            /e2e-wait-for-ticks/,
            /e2e-kill-driver\.sh/,
            /e2e-check-ticks\.sh/,
            /e2e-diagnostics/,
            /e2e-teardown/,
        ].map((p) => at(p));
        const waitAgain = at(/e2e-wait-for-ticks/, kill + 1);
        assert.ok(
            steps.indexOf(kind!) < cni &&
                cni < up &&
                up < wait &&
                wait < kill &&
                kill < waitAgain &&
                waitAgain < check &&
                check < diagnose &&
                diagnose < teardown,
            "kind, CNI, up, wait, kill the driver, wait for more, check, diagnostics, teardown in that order",
        );
        assert.equal(steps[diagnose].if, "failure()");
        assert.match(String(steps[teardown].if), /always\(\)|!cancelled\(\)/, "teardown runs after a failure too");
        // Every step that waits on the cluster is bounded; the job's timeout covers them all.
        for (const step of [cni, up, wait, kill, waitAgain, check, teardown].map((i) => steps[i])) {
            assert.ok(typeof step["timeout-minutes"] === "number", `${step.name}: timeout-minutes`);
        }
        const bounded = [cni, up, wait, kill, waitAgain, check, teardown].reduce((sum, i) => sum + steps[i]["timeout-minutes"], 0);
        assert.ok(job["timeout-minutes"] >= bounded, `job timeout ${job["timeout-minutes"]} < ${bounded} minutes of steps`);
        // The assertions after the kill count only what was written after it.
        assert.ok(kill >= 0 && steps[kill].id, "the kill step has an id");
        for (const i of [waitAgain, check]) {
            assert.equal(steps[i].env?.SINCE, `\${{ steps.${steps[kill].id}.outputs.at }}`, `${steps[i].name}: SINCE from the kill step`);
        }
        assert.match(String(steps[kill].run), /set -o pipefail/, "a failed kill must fail its step despite the tee");
    });

    it("run e2e without kind's CNI, with a pinned Calico that enforces NetworkPolicies", () => {
        const [[, job]] = jobsOf(workflow("e2e"));
        const kind = (job.steps as Dict[]).find((s) => usesAction(s, "helm/kind-action"))!;
        const configFile = path.join(ROOT, String(kind.with?.config));
        assert.ok(fs.existsSync(configFile), `kind config ${kind.with?.config} does not exist`);
        const config = parse(fs.readFileSync(configFile, "utf8"));
        assert.equal(config.kind, "Cluster");
        assert.equal(config.networking?.disableDefaultCNI, true, "kindnet ignores NetworkPolicies");
        assert.equal(config.networking?.podSubnet, "192.168.0.0/16", "Calico's default pool, which its manifest assumes");
        assert.equal(String(kind.with?.wait), "0s", "the node cannot be Ready before the CNI is installed");
        const cni = (job.steps as Dict[]).find((s) => /e2e-cni\.sh/.test(String(s.run)))!;
        assert.match(String(cni.env?.CALICO_VERSION), /^v\d+\.\d+\.\d+$/, "an exact Calico version");
    });

    it("find no one's encryption salt committed in Pulumi.local.yaml", () => {
        // e2e runs `pulumi stack init local` with its own passphrase, which a committed salt would refuse.
        // The committed file, when there is a commit: a developer's working copy has its own salt (docs/local.md).
        const committed = spawnSync("git", ["show", "HEAD:Pulumi.local.yaml"], { cwd: ROOT, encoding: "utf8" });
        const text = committed.status === 0 ? committed.stdout : fs.readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8");
        assert.doesNotMatch(
            text,
            /^(encryptionsalt|encryptedkey|secretsprovider):/m,
            "remove the line from Pulumi.local.yaml before committing (docs/local.md)",
        );
    });
});

// ---------------------------------------------------------------------------------------------------
// The scripts, run in a scratch copy of the repository with fake pulumi, npm and kubectl on PATH.

/** Fake CLI: logs its arguments to $FAKE_DIR/calls, fails when its first argument (after kubectl's -n NAMESPACE) is in FAKE_FAIL. */
const FAKE_PRELUDE = `#!/usr/bin/env node
const fs = require("fs"), path = require("path");
const dir = process.env.FAKE_DIR, args = process.argv.slice(2);
// One line per call: multi-line arguments (SQL) are folded.
fs.appendFileSync(path.join(dir, "calls"), path.basename(process.argv[1]) + " " + args.join(" ").replace(/\\n\\s*/g, " ") + "\\n");
const verb = args[0] === "-n" ? args[2] : args[0]; // kubectl -n NAMESPACE VERB
if ((process.env.FAKE_FAIL || "").split(",").includes(verb)) process.exit(1);
`;
const FAKES: Record<string, string> = {
    // \`stack export\` prints state.<phase>.json of the latest phase reached: initial, up, unprotect, destroy.
    pulumi: `${FAKE_PRELUDE}
if (args[0] === "stack" && args[1] === "export") {
    const calls = fs.readFileSync(path.join(dir, "calls"), "utf8").split("\\n");
    const phases = ["initial", ...calls.map((c) => (/^pulumi (up|destroy)\\b/.exec(c) || [])[1] || (/^pulumi state unprotect/.test(c) ? "unprotect" : null)).filter(Boolean)];
    const file = phases.reverse().map((p) => path.join(dir, "state." + p + ".json")).find((f) => fs.existsSync(f));
    process.stdout.write(fs.readFileSync(file));
}`,
    npm: `${FAKE_PRELUDE}
process.stdout.write(process.env.FAKE_REPORT || "");
process.exit(Number(process.env.FAKE_REPORT_STATUS || 0));`,
    // exec: psql prints FAKE_PSQL, or FAKE_PSQL_WRITES when it reads the sink's write log. The Kafka client pod: apply saves its manifest as client.json, its phase
    // is FAKE_CLIENT_PHASE (Succeeded), its log FAKE_MESSAGES. get pods: -o name prints FAKE_POD_NAMES; the
    // driver pods' columns are FAKE_PODS_BEFORE until a pod was deleted, then FAKE_PODS_AFTER.
    kubectl: `${FAKE_PRELUDE}
const line = args.join(" ");
const env = process.env;
if (/get secret/.test(line)) process.stdout.write(Buffer.from("admin-password").toString("base64"));
if (args.includes("exec") && args.includes("psql")) process.stdout.write((/_writes"/.test(line) ? env.FAKE_PSQL_WRITES : env.FAKE_PSQL) || "");
if (/get statefulset kafka-controller/.test(line)) process.stdout.write("docker.io/bitnami/kafka:4.0.0");
if (args.includes("apply") && /client\\.json$/.test(line)) fs.copyFileSync(args[args.indexOf("-f") + 1], path.join(dir, "client.json"));
if (/get pod e2e-check-ticks-/.test(line)) process.stdout.write(env.FAKE_CLIENT_PHASE || "Succeeded");
if (/logs e2e-check-ticks-/.test(line)) process.stdout.write(env.FAKE_MESSAGES || "");
if (/get pods .*-o name/.test(line)) process.stdout.write(env.FAKE_POD_NAMES || "");
// logs [-f] POD: FAKE_DRIVER_LOGS[POD], a JSON map of [the log before the hold file was created, the log after].
if (/ logs (-f )?\\S+ -c driver$/.test(line)) {
    const pod = args[args.indexOf("logs") + 1] === "-f" ? args[args.indexOf("logs") + 2] : args[args.indexOf("logs") + 1];
    // A follower (-f) prints the log until the container dies: the held batch's line included.
    const held = args.includes("-f") || fs.readFileSync(path.join(dir, "calls"), "utf8").includes(" touch ");
    process.stdout.write((JSON.parse(env.FAKE_DRIVER_LOGS || "{}")[pod] || ["", ""])[held ? 1 : 0]);
}
if (/get pods .*custom-columns/.test(line)) {
    const deleted = fs.readFileSync(path.join(dir, "calls"), "utf8").includes(" delete pod ");
    process.stdout.write((deleted ? env.FAKE_PODS_AFTER : env.FAKE_PODS_BEFORE) || "");
}
if (/get namespace/.test(line)) process.stdout.write(env.FAKE_NAMESPACES || "");`,
    gcloud: FAKE_PRELUDE,
    // Saves the client config it is given as consumer.properties and prints FAKE_MESSAGES.
    "kafka-console-consumer.sh": `${FAKE_PRELUDE}
fs.copyFileSync(args[args.indexOf("--consumer.config") + 1], path.join(dir, "consumer.properties"));
process.stdout.write(process.env.FAKE_MESSAGES || "");`,
};

/**
 * The interpreter `python3` resolves to, which the scratch PATH names directly: on a runner python3 is the interpreter,
 * here it may be a version manager's shim (pyenv's is a bash script, 0.1 s a call), and the scripts call the ledger
 * several times a run.
 */
const PYTHON3 = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).stdout?.trim();

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    calls: string[];
}

class ScratchRepo {
    readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "workflows-test-"));
    private readonly bin = path.join(this.root, "fake-bin");
    private readonly fakeDir = path.join(this.root, "fake");

    constructor() {
        fs.cpSync(SCRIPTS_DIR, path.join(this.root, ".github", "scripts"), { recursive: true });
        // stack_symbols reads the stack's config from these.
        for (const file of ["Pulumi.yaml", "Pulumi.local.yaml"]) {
            fs.copyFileSync(path.join(ROOT, file), path.join(this.root, file));
        }
        // e2e-kill-driver.sh and e2e-check-ticks.sh judge with the engines' ledger.
        fs.mkdirSync(path.join(this.root, "engines"));
        fs.copyFileSync(path.join(ROOT, "engines", "ledger.py"), path.join(this.root, "engines", "ledger.py"));
        fs.mkdirSync(this.bin);
        fs.mkdirSync(this.fakeDir);
        for (const [name, source] of Object.entries(FAKES)) {
            fs.writeFileSync(path.join(this.bin, name), source, { mode: 0o755 });
        }
        if (PYTHON3) {
            fs.symlinkSync(PYTHON3, path.join(this.bin, "python3"));
        }
    }

    write(file: string, text: string): this {
        fs.writeFileSync(path.join(this.root, file), text);
        return this;
    }

    /** The state `pulumi stack export` shows from a phase on: the stack resource plus the given ones. */
    state(phase: "initial" | "up" | "unprotect" | "destroy", ...resources: { name: string; protect?: boolean }[]): this {
        const all = [
            { urn: "urn:pulumi:prod::streaming-platform::pulumi:pulumi:Stack::streaming-platform-prod", type: "pulumi:pulumi:Stack" },
            ...resources.map((r) => ({ urn: `urn:pulumi:prod::streaming-platform::test:Thing::${r.name}`, type: "test:Thing", protect: r.protect })),
        ];
        fs.writeFileSync(path.join(this.fakeDir, `state.${phase}.json`), JSON.stringify({ version: 3, deployment: { resources: all } }));
        return this;
    }

    run(script: string, args: string[], env: Record<string, string> = {}): Run {
        const inherited = { ...process.env };
        // Under GitHub Actions the scripts would annotate and write to this run's summary.
        delete inherited.GITHUB_ACTIONS;
        delete inherited.GITHUB_STEP_SUMMARY;
        const result = spawnSync("bash", [path.join(this.root, ".github", "scripts", script), ...args], {
            cwd: this.root,
            encoding: "utf8",
            env: {
                ...inherited,
                PATH: `${this.bin}${path.delimiter}${process.env.PATH}`,
                FAKE_DIR: this.fakeDir,
                NODE_PATH: path.join(ROOT, "node_modules"),
                ...env,
            },
        });
        const callsFile = path.join(this.fakeDir, "calls");
        const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").split("\n").filter(Boolean) : [];
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
    }

    remove() {
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}

describe(".github/scripts", function () {
    this.timeout(30000);
    let repo: ScratchRepo;
    beforeEach(() => {
        repo = new ScratchRepo();
    });
    afterEach(() => repo.remove());

    it("are strict bash that parses", () => {
        for (const name of fs.readdirSync(SCRIPTS_DIR)) {
            const file = path.join(SCRIPTS_DIR, name);
            const text = fs.readFileSync(file, "utf8");
            assert.ok(text.startsWith("#!/usr/bin/env bash\n"), `${name}: bash shebang`);
            assert.match(text, /^set -euo pipefail$/m, `${name}: set -euo pipefail`);
            const check = spawnSync("bash", ["-n", file], { encoding: "utf8" });
            assert.equal(check.status, 0, `${name}: ${check.stderr}`);
        }
    });

    it("pass shellcheck", () => {
        // Not skipped without shellcheck: a lint that does not run proves nothing.
        assert.equal(spawnSync("shellcheck", ["--version"]).status, 0, "shellcheck is not installed; on Debian/Ubuntu: apt-get install shellcheck");
        const files = [
            ...fs.readdirSync(SCRIPTS_DIR).map((name) => path.join(SCRIPTS_DIR, name)),
            path.join(ROOT, "scripts", "python"),
            path.join(ROOT, "scripts", "check-lint"),
        ];
        // -P SCRIPTDIR: follow `source .../lib.sh` next to each script.
        const check = spawnSync("shellcheck", ["-x", "-P", "SCRIPTDIR", ...files], { encoding: "utf8" });
        assert.equal(check.status, 0, check.stdout + check.stderr);
    });

    describe("pulumi-destroy.sh", () => {
        it("lifts protection in the working copy with a full update, destroys and checks the state is empty", () => {
            repo.state("initial", { name: "cluster" }, { name: "kafka", protect: true })
                .state("up", { name: "cluster" }, { name: "kafka" })
                .state("destroy");
            const run = repo.run("pulumi-destroy.sh", ["prod"]);
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(run.calls, [
                "pulumi stack export --stack prod",
                "pulumi config set deletionProtection false --stack prod",
                "pulumi up --stack prod --yes",
                "pulumi stack export --stack prod",
                "pulumi destroy --stack prod --yes",
                "pulumi stack export --stack prod",
            ]);
        });

        it("removes protect from the state when the update left something protected", () => {
            repo.state("initial", { name: "kafka", protect: true })
                .state("up", { name: "kafka", protect: true })
                .state("unprotect", { name: "kafka" })
                .state("destroy");
            const run = repo.run("pulumi-destroy.sh", ["prod"]);
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /test:Thing::kafka/);
            const unprotect = run.calls.indexOf("pulumi state unprotect --all --yes --stack prod");
            assert.ok(unprotect > run.calls.indexOf("pulumi up --stack prod --yes"));
            assert.ok(unprotect < run.calls.indexOf("pulumi destroy --stack prod --yes"));
        });

        it("fails when the state still holds resources after destroy", () => {
            repo.state("initial", { name: "cluster" }).state("destroy", { name: "orphan" });
            const run = repo.run("pulumi-destroy.sh", ["prod"]);
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /still holds resources[\s\S]*test:Thing::orphan/);
        });

        it("leaves an empty stack alone instead of building it to destroy it", () => {
            repo.state("initial");
            const run = repo.run("pulumi-destroy.sh", ["prod"]);
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(run.calls, ["pulumi stack export --stack prod"]);
        });

        it("stops before changing anything when the state cannot be read", () => {
            repo.state("initial", { name: "cluster" });
            const run = repo.run("pulumi-destroy.sh", ["prod"], { FAKE_FAIL: "stack" });
            assert.notEqual(run.status, 0);
            assert.deepEqual(run.calls, ["pulumi stack export --stack prod"]);
        });
    });

    describe("capacity-report.sh", () => {
        it("writes the report with a heading and succeeds when the stack fits", () => {
            const run = repo.run("capacity-report.sh", ["dev", "report.md"], { FAKE_REPORT: "| node | fits |\n" });
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(run.calls, ["npm run --silent report -- dev --markdown"]);
            const written = fs.readFileSync(path.join(repo.root, "report.md"), "utf8");
            assert.match(written, /^### Capacity and cost: `dev`\n\n\| node \| fits \|/);
            assert.doesNotMatch(written, /does not fit/);
        });

        it("still writes the report, and fails with its status, when the stack does not fit", () => {
            const run = repo.run("capacity-report.sh", ["prod", "report.md"], { FAKE_REPORT: "too big\n", FAKE_REPORT_STATUS: "3" });
            assert.equal(run.status, 3);
            assert.match(fs.readFileSync(path.join(repo.root, "report.md"), "utf8"), /too big[\s\S]*exit 3[\s\S]*does not fit/);
        });
    });

    describe("pulumi-ci-stack.sh", () => {
        const env = {
            PULUMI_BACKEND_URL: "gs://acme-pulumi-state",
            GCP_PROJECT: "acme-streaming",
        };
        const key = (stack: string, project = "acme-streaming") =>
            `gcpkms://projects/${project}/locations/us-central1/keyRings/pulumi/cryptoKeys/pulumi-secrets-${stack}`;
        const initialised = `secretsprovider: ${key("dev")}\nencryptedkey: CiQAbc==\nconfig:\n  streaming-platform:nodeSpot: true\n`;

        it("logs in, selects the stack and sets gcp:project and projectSetup bootstrap", () => {
            const run = repo.write("Pulumi.dev.yaml", initialised).run("pulumi-ci-stack.sh", ["dev"], env);
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(run.calls, [
                "pulumi login gs://acme-pulumi-state",
                "pulumi stack select dev",
                "pulumi config set gcp:project acme-streaming --stack dev",
                "pulumi config set projectSetup bootstrap --stack dev",
            ]);
        });

        it("makes gcloud Docker's credential helper for the Artifact Registry host of chartRepository, and nothing else", () => {
            const repository = "oci://us-central1-docker.pkg.dev/acme-streaming/bitnami-dev/bitnamicharts";
            const withRepository = (value: string) => `${initialised}  streaming-platform:chartRepository: "${value}"\n`;
            const run = repo.write("Pulumi.dev.yaml", withRepository(repository)).run("pulumi-ci-stack.sh", ["dev"], env);
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(run.calls.slice(-1), ["gcloud auth configure-docker us-central1-docker.pkg.dev --quiet"]);
            let earlier = run.calls.length; // the calls log grows over the runs of one scratch repository
            // Bitnami's registry is anonymous; another registry needs its own login (the script's header).
            for (const other of ["", "oci://registry.example.com/charts"]) {
                const plain = repo.write("Pulumi.dev.yaml", withRepository(other)).run("pulumi-ci-stack.sh", ["dev"], env);
                assert.equal(plain.status, 0, plain.stderr);
                assert.ok(!plain.calls.slice(earlier).some((call) => call.startsWith("gcloud ")), other);
                earlier = plain.calls.length;
            }
            const failed = repo
                .write("Pulumi.dev.yaml", withRepository(repository))
                .run("pulumi-ci-stack.sh", ["dev"], { ...env, FAKE_FAIL: "auth" });
            assert.notEqual(failed.status, 0, "a helper gcloud could not set up fails the step");
        });

        it("refuses another stack's key or another project's", () => {
            for (const provider of [key("prod"), key("dev", "other-project"), key("dev").replace("pulumi-secrets-dev", "pulumi-secrets")]) {
                const run = repo.write("Pulumi.dev.yaml", initialised.replace(key("dev"), provider)).run("pulumi-ci-stack.sh", ["dev"], env);
                assert.notEqual(run.status, 0, provider);
                assert.match(run.stderr, /not with the stack's own key/);
                assert.deepEqual(run.calls, []);
            }
        });

        it("refuses a stack file without the committed KMS secrets provider", () => {
            const run = repo.write("Pulumi.dev.yaml", "config:\n  streaming-platform:nodeSpot: true\n").run("pulumi-ci-stack.sh", ["dev"], env);
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /pulumi stack init dev --secrets-provider/);
            assert.deepEqual(run.calls, []);
        });

        it("refuses a secrets provider other than the repository's", () => {
            const run = repo.write("Pulumi.dev.yaml", initialised.replace("pulumi-secrets-dev", "other-key")).run("pulumi-ci-stack.sh", ["dev"], env);
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /other-key/);
        });

        it("refuses a backend that is not a GCS bucket and an unknown stack", () => {
            repo.write("Pulumi.dev.yaml", initialised);
            assert.notEqual(repo.run("pulumi-ci-stack.sh", ["dev"], { ...env, PULUMI_BACKEND_URL: "file://~" }).status, 0);
            assert.notEqual(repo.run("pulumi-ci-stack.sh", ["staging"], env).status, 0);
            assert.deepEqual(repo.run("pulumi-ci-stack.sh", ["staging"], env).calls, []);
        });
    });

    describe("e2e-wait-for-ticks.sh", () => {
        const quick = { TIMEOUT_SECONDS: "0", INTERVAL_SECONDS: "0" };
        const counts = (bitcoin: number, ethereum: number, solana: number) => `bitcoin\t${bitcoin}\nethereum\t${ethereum}\nsolana\t${solana}\n`;
        const psqlCall = (run: Run) =>
            run.calls.find((c) => /exec postgresql-primary-0 -c postgresql -- env PGPASSWORD=admin-password psql -U postgres -d pipeline/.test(c)) ??
            "";

        it("succeeds once crypto_ticks has rows for every configured symbol", () => {
            const run = repo.run("e2e-wait-for-ticks.sh", [], { ...quick, FAKE_PSQL: counts(3, 1, 2) });
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /rows for every symbol: bitcoin=3 ethereum=1 solana=2/);
            // The symbols come from Pulumi.yaml's default (the local stack does not set them).
            assert.match(psqlCall(run), /unnest\(ARRAY\['bitcoin','ethereum','solana'\]::text\[\]\)/);
            assert.doesNotMatch(psqlCall(run), /updated_at/);
        });

        it("fails after its timeout naming the symbols without rows", () => {
            const run = repo.run("e2e-wait-for-ticks.sh", [], { ...quick, FAKE_PSQL: counts(3, 0, 2) });
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /no rows in pipeline\.crypto_ticks for ethereum after 0s/);
        });

        it("reads the stack's own cryptoSymbols and counts only rows written after SINCE", () => {
            repo.write("Pulumi.local.yaml", "config:\n  streaming-platform:cryptoSymbols: [bitcoin, dogecoin]\n");
            const run = repo.run("e2e-wait-for-ticks.sh", [], { ...quick, SINCE: "2025-03-01T12:00:00Z", FAKE_PSQL: "bitcoin\t1\ndogecoin\t0\n" });
            assert.notEqual(run.status, 0);
            assert.match(psqlCall(run), /ARRAY\['bitcoin','dogecoin'\]/);
            assert.match(psqlCall(run), /t\.updated_at > '2025-03-01T12:00:00Z'::timestamptz/);
            assert.match(run.stderr, /no rows written after 2025-03-01T12:00:00Z in pipeline\.crypto_ticks for dogecoin/);
        });

        it("refuses a symbol or SINCE that is not safe to put into SQL", () => {
            repo.write("Pulumi.local.yaml", 'config:\n  streaming-platform:cryptoSymbols: ["x\'; DROP TABLE crypto_ticks; --"]\n');
            assert.notEqual(repo.run("e2e-wait-for-ticks.sh", [], quick).status, 0);
            repo.write("Pulumi.local.yaml", "config: {}\n");
            const run = repo.run("e2e-wait-for-ticks.sh", [], { ...quick, SINCE: "now'; --" });
            assert.notEqual(run.status, 0);
            assert.ok(!run.calls.some((c) => / exec /.test(c)), "nothing ran in the cluster");
        });
    });

    describe("e2e-cni.sh", () => {
        it("applies the pinned Calico manifest and waits for it and the nodes", () => {
            const run = repo.run("e2e-cni.sh", [], { CALICO_VERSION: "v3.29.3" });
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(run.calls, [
                "kubectl apply -f https://raw.githubusercontent.com/projectcalico/calico/v3.29.3/manifests/calico.yaml",
                "kubectl -n kube-system rollout status daemonset/calico-node --timeout 300s",
                "kubectl -n kube-system rollout status deployment/calico-kube-controllers --timeout 300s",
                "kubectl wait --for=condition=Ready nodes --all --timeout 300s",
            ]);
        });

        it("refuses a version that is not exact", () => {
            const run = repo.run("e2e-cni.sh", [], { CALICO_VERSION: "master" });
            assert.notEqual(run.status, 0);
            assert.deepEqual(run.calls, []);
        });
    });

    describe("e2e-kill-driver.sh", () => {
        const quick = { RECOVERY_TIMEOUT_SECONDS: "0", REPLAY_TIMEOUT_SECONDS: "0", HOLD_TIMEOUT_SECONDS: "0", INTERVAL_SECONDS: "0" };
        const before = "crypto-ticks-stream-a   true   <none>\n";
        const after = "crypto-ticks-stream-b   true   <none>\n";
        const batch = (id: number, received: number, written: number) =>
            `2026-01-01 12:00:00,000 INFO stream_ticks: batch ${id}: received=${received} malformed=0 duplicates=0 written=${written}\n`;
        const logs = (replay: string) =>
            JSON.stringify({
                "crypto-ticks-stream-a": ["Spark started\n" + batch(4, 3, 3), "Spark started\n" + batch(4, 3, 3) + batch(5, 3, 3)],
                "crypto-ticks-stream-b": [replay, replay],
            });
        const kill = (replay: string, env: Record<string, string> = {}) =>
            repo.run("e2e-kill-driver.sh", [], {
                ...quick,
                KILLED_DRIVER_LOG: path.join(repo.root, "killed.log"),
                FAKE_PODS_BEFORE: before,
                FAKE_PODS_AFTER: after,
                FAKE_DRIVER_LOGS: logs(replay),
                ...env,
            });

        it("kills the driver while it holds a written batch, and the replacement runs that batch again writing nothing", () => {
            const run = kill(batch(5, 3, 0) + batch(6, 3, 3));
            assert.equal(run.status, 0, run.stderr);
            const at = (pattern: RegExp) => run.calls.findIndex((c) => pattern.test(c));
            // The switch only this test turns on, then the hold, then the crash.
            const order = [
                at(
                    /^kubectl -n spark set env deployment\/crypto-ticks-stream -c driver SINK_HOLD_FILE=\/tmp\/\S+ SINK_WRITE_LOG_TABLE=crypto_ticks_writes$/,
                ),
                at(/^kubectl -n spark rollout status deployment\/crypto-ticks-stream/),
                at(/^kubectl -n spark exec crypto-ticks-stream-a -c driver -- touch \/tmp\/\S+$/),
                at(/^kubectl -n spark delete pod crypto-ticks-stream-a --grace-period=0 --force --wait=false$/),
            ];
            assert.ok(
                order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1])),
                run.calls.join("\n"),
            );
            assert.match(run.stdout, /crypto-ticks-stream-a holds batch 5: received=3 written=3/);
            assert.match(run.stdout, /crypto-ticks-stream-b ran batch 5 again: received=3 written=0/);
            assert.match(run.stdout.trim().split("\n").pop()!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
            // Followed from before the hold (a process of its own, so its call may be logged later) until the pod dies.
            assert.ok(at(/^kubectl -n spark logs -f crypto-ticks-stream-a -c driver$/) >= 0);
            assert.match(fs.readFileSync(path.join(repo.root, "killed.log"), "utf8"), /batch 5: received=3/, "the killed driver's log is kept");
        });

        it("fails when the replacement writes the held batch's rows a second time", () => {
            const run = kill(batch(5, 3, 3));
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /crypto-ticks-stream-b ran batch 5 again and wrote 3 of its 3 rows a second time/);
        });

        it("fails when the replacement does not run the held batch again", () => {
            const run = kill(batch(6, 3, 3));
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /batch 5 run again by crypto-ticks-stream-b: not after 0s/);
        });

        it("fails when no replacement becomes Ready", () => {
            const run = kill("", { FAKE_PODS_AFTER: "crypto-ticks-stream-a   true   <none>\ncrypto-ticks-stream-b   false   <none>\n" });
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /a Ready pod of deployment spark\/crypto-ticks-stream after crypto-ticks-stream-a was killed: not after 0s/);
        });

        it("does not kill while no batch is held", () => {
            const run = kill("", { FAKE_DRIVER_LOGS: JSON.stringify({ "crypto-ticks-stream-a": [batch(4, 3, 3), batch(4, 3, 3)] }) });
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /a batch of crypto-ticks-stream-a after its hold was set: not after 0s/);
            assert.ok(!run.calls.some((c) => / delete /.test(c)));
        });

        it("refuses to start without a Ready driver", () => {
            const run = repo.run("e2e-kill-driver.sh", [], quick);
            assert.notEqual(run.status, 0);
            assert.ok(!run.calls.some((c) => / delete | exec /.test(c)));
        });
    });

    describe("e2e-check-ticks.sh", () => {
        const quick = { CHECK_TIMEOUT_SECONDS: "0", INTERVAL_SECONDS: "0", CLIENT_INTERVAL_SECONDS: "0", SINCE: "2025-03-01T12:01:00Z" };
        const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
        const tick = (n: number, symbol: string, event: string, ingest: string) =>
            JSON.stringify({
                symbol,
                price: 1.5,
                currency: "usd",
                source: "coingecko",
                event_time: `2025-03-01T${event}.000Z`,
                ingest_time: `2025-03-01T${ingest}.000Z`,
                tick_id: id(n),
            });
        // As the ledger's queries print them: psql -tA, tab-separated, instants as UTC text.
        const utc = (time: string) => `2025-03-01T${time}.000000Z`;
        const row = (symbol: string, event: string, ingest: string) => `${symbol}\t${utc(event)}\t${utc(ingest)}`;
        const write = (n: number, symbol: string, event: string, ingest: string) => `${id(n)}\t${row(symbol, event, ingest)}`;
        // Two polls per symbol, one before and one after the kill; bitcoin's price did not change in between,
        // so both of its messages share a key and the newer one wins.
        const messages =
            [
                tick(1, "bitcoin", "12:00:00", "12:00:30"),
                tick(2, "ethereum", "12:00:00", "12:00:30"),
                tick(3, "solana", "12:00:00", "12:00:30"),
                tick(4, "bitcoin", "12:00:00", "12:01:30"),
                tick(5, "ethereum", "12:01:00", "12:01:30"),
                tick(6, "solana", "12:01:00", "12:01:30"),
                "Processed a total of 6 messages",
            ].join("\n") + "\n";
        const rows = [
            row("bitcoin", "12:00:00", "12:01:30"),
            row("ethereum", "12:00:00", "12:00:30"),
            row("ethereum", "12:01:00", "12:01:30"),
            row("solana", "12:00:00", "12:00:30"),
            row("solana", "12:01:00", "12:01:30"),
        ];
        // The write log began with the hold, before the kill: the first poll's writes are not in it.
        const writes = [
            write(4, "bitcoin", "12:00:00", "12:01:30"),
            write(5, "ethereum", "12:01:00", "12:01:30"),
            write(6, "solana", "12:01:00", "12:01:30"),
        ];
        const check = (table: string[], env: Record<string, string> = {}, log: string[] = writes) =>
            repo.run("e2e-check-ticks.sh", [], {
                ...quick,
                FAKE_MESSAGES: messages,
                FAKE_PSQL: table.join("\n") + "\n",
                FAKE_PSQL_WRITES: log.join("\n") + "\n",
                ...env,
            });

        it("passes when every produced key holds its newest tick and no tick was written twice", () => {
            const run = check(rows);
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /read 7 messages from topic crypto-ticks/);
            assert.match(run.stdout, /every produced tick's key holds its newest tick, and no tick was written twice/);
            assert.match(run.stderr, /6 ticks of 3 symbols produced, 5 rows, 3 writes logged, 0 problems/);
            // The ledger's own queries, the write log's table the one e2e-kill-driver.sh names.
            assert.ok(run.calls.some((c) => /psql .* -c SELECT symbol, to_char\(event_time .* FROM "crypto_ticks"$/.test(c)));
            assert.ok(run.calls.some((c) => /psql .* -c SELECT tick_id, symbol, .* FROM "crypto_ticks_writes"$/.test(c)));
            assert.ok(!run.calls.some((c) => / exec .*kafka/.test(c)), "no Kafka client in the broker's container");
            assert.ok(
                run.calls.some((c) => /^kubectl -n kafka delete pod e2e-check-ticks-/.test(c)),
                "the client pod is deleted",
            );
        });

        it("reads the topic in a client pod of the broker's image that Pod Security 'restricted' and the NetworkPolicies admit", async () => {
            const run = check(rows);
            assert.equal(run.status, 0, run.stderr);
            const client = JSON.parse(fs.readFileSync(path.join(repo.root, "fake", "client.json"), "utf8"));
            const [container] = client.spec.containers;
            assert.equal(container.image, "docker.io/bitnami/kafka:4.0.0");
            assert.deepEqual(container.command.slice(0, 2), ["bash", "-c"]);
            assert.equal(container.command[2], fs.readFileSync(path.join(SCRIPTS_DIR, "e2e-read-topic.sh"), "utf8").trimEnd());
            const env = Object.fromEntries(container.env.map((e: Dict) => [e.name, e.value]));
            assert.equal(env.KAFKA_TOPIC, "crypto-ticks");
            assert.match(env.KAFKA_GROUP, /^crypto-ticks-stream-e2e-check-\S+$/, "a group under the consumer's ACL prefix");
            assert.ok(!("JMX_PORT" in env));
            assert.doesNotMatch(JSON.stringify(client), /password"?:|kafka-password/, "the password is mounted, not in the manifest");
            assert.deepEqual(restrictedProblems(client.spec), []);
            const { objects } = await renderStack("local");
            const broker = podsOf(objects).find((p) => p.workload === "StatefulSet/kafka-controller")!;
            const pod = { workload: "Pod/e2e-check-ticks", namespace: "kafka", labels: client.metadata.labels, ports: [] };
            assert.ok(admits(objects, pod, broker, 9092), "the rendered NetworkPolicies admit the client to the broker");
            const stranger = { ...pod, labels: { "app.kubernetes.io/name": "e2e-check-ticks" } };
            assert.ok(!admits(objects, stranger, broker, 9092), "the client label is what admits it");
        });

        it("fails when the client pod fails", () => {
            const run = check(rows, { FAKE_CLIENT_PHASE: "Failed" });
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /client pod kafka\/e2e-check-ticks-\S+ failed/);
        });

        it("ignores rows and writes newer than what it read from Kafka", () => {
            const later = ["bitcoin", "12:02:00", "12:02:30"] as const;
            assert.equal(check([...rows, row(...later)], {}, [...writes, write(7, ...later)]).status, 0);
        });

        for (const [problem, table, log, expected] of [
            [
                "a missing tick",
                rows.filter((r) => !r.startsWith("solana\t" + utc("12:01:00"))),
                writes,
                /missing: solana 2025-03-01T12:01:00\.000000Z has no row/,
            ],
            // What the table's key hides: the replacement wrote a tick of the held batch again.
            [
                "a tick written twice",
                rows,
                [...writes, writes[1]],
                new RegExp(`written twice: tick ${id(5)} \\(ethereum 2025-03-01T12:01:00\\.000000Z\\) was written 2 times`),
            ],
            [
                "a row that matches no tick",
                [...rows, row("ethereum", "11:00:00", "12:00:30")],
                writes,
                /unknown: row ethereum 2025-03-01T11:00:00\.000000Z matches no tick produced/,
            ],
            [
                "a row older than its newest tick",
                [row("bitcoin", "12:00:00", "12:00:30"), ...rows.slice(1)],
                writes,
                /stale: bitcoin 2025-03-01T12:00:00\.000000Z/,
            ],
            ["a write after the kill missing from the write log", rows, writes.slice(1), /unlogged: the row of bitcoin 2025-03-01T12:00:00\.000000Z/],
        ] as [string, string[], string[], RegExp][]) {
            it(`fails on ${problem}`, () => {
                const run = check(table, {}, log);
                assert.notEqual(run.status, 0);
                assert.match(run.stderr, expected);
                assert.match(run.stderr, /crypto_ticks does not match the topic after 0s/);
            });
        }

        it("fails when the write log is empty: it was not on when the ticks after the kill were written", () => {
            const run = check(rows, {}, []);
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /3 problems/);
            assert.match(run.stderr, /unlogged: the row of solana 2025-03-01T12:01:00\.000000Z has no write in the write log/);
        });

        it("fails when a symbol has no message, or nothing was produced after the kill", () => {
            const run = check(rows, {
                SINCE: "2025-03-01T13:00:00Z",
                FAKE_MESSAGES: messages
                    .split("\n")
                    .filter((m) => !/solana/.test(m))
                    .join("\n"),
            });
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /no tick of symbol solana was produced/);
            assert.match(run.stderr, /no tick produced after 2025-03-01T13:00:00\.000000Z/);
        });
    });

    describe("e2e-read-topic.sh", () => {
        it("reads the topic from its beginning as the consumer over SASL_SSL, the password from its file only", () => {
            repo.write("password", "kafka-password").write("ca.crt", "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n");
            const run = repo.run("e2e-read-topic.sh", [], {
                KAFKA_BOOTSTRAP: "kafka.kafka.svc.cluster.local:9092",
                KAFKA_TOPIC: "crypto-ticks",
                KAFKA_GROUP: "crypto-ticks-stream-e2e-check-1",
                KAFKA_USER: "consumer",
                KAFKA_PASSWORD_FILE: path.join(repo.root, "password"),
                KAFKA_CA_FILE: path.join(repo.root, "ca.crt"),
                FAKE_MESSAGES: '{"symbol":"bitcoin"}\n',
            });
            assert.equal(run.status, 0, run.stderr);
            assert.equal(run.stdout, '{"symbol":"bitcoin"}\n');
            assert.match(
                run.calls[0],
                /^kafka-console-consumer\.sh --bootstrap-server kafka\.kafka\.svc\.cluster\.local:9092 --topic crypto-ticks --group crypto-ticks-stream-e2e-check-1 --from-beginning --timeout-ms 20000 --consumer\.config \S+$/,
            );
            assert.doesNotMatch(run.calls[0], /kafka-password/, "the password is not on a command line");
            assert.match(
                fs.readFileSync(path.join(repo.root, "fake", "consumer.properties"), "utf8"),
                /^security\.protocol=SASL_SSL\nssl\.truststore\.type=PEM\nssl\.truststore\.certificates=-----BEGIN CERTIFICATE----- \\\nQ0E= \\\n-----END CERTIFICATE-----\nsasl\.mechanism=SCRAM-SHA-512\n.*username="consumer" password="kafka-password";\n$/,
            );
        });
    });

    describe("e2e-diagnostics.sh", () => {
        it("prints import errors, the DAG's task log and the streaming drivers' logs, the killed one's too, and never fails", () => {
            repo.write("killed.log", "batch 5: received=3 malformed=0 duplicates=0 written=3\n");
            const run = repo.run("e2e-diagnostics.sh", [], {
                FAKE_POD_NAMES: "pod/airflow-scheduler-0\n",
                FAKE_FAIL: "logs",
                KILLED_DRIVER_LOG: path.join(repo.root, "killed.log"),
            });
            assert.equal(run.status, 0, run.stderr);
            assert.ok(run.calls.includes("kubectl -n airflow exec pod/airflow-scheduler-0 -- airflow dags list-import-errors"));
            assert.ok(run.calls.some((c) => /^kubectl -n airflow exec pod\/airflow-scheduler-0 -- bash -c .*dag_id=crypto_prices/.test(c)));
            assert.ok(run.calls.includes("kubectl -n spark logs deploy/crypto-ticks-stream --all-containers --tail 200"));
            assert.match(run.stdout, /Spark streaming driver logs\n\(command failed with exit code 1\)/);
            assert.match(run.stdout, /the killed pod \(kept by e2e-kill-driver\.sh\)\nbatch 5: received=3/);
        });
    });

    describe("e2e-teardown.sh", () => {
        const quick = { TEARDOWN_TIMEOUT_SECONDS: "0", TEARDOWN_INTERVAL_SECONDS: "0" };

        it("destroys the local stack and passes when nothing is left", () => {
            repo.state("initial", { name: "kafka" }).state("destroy");
            const run = repo.run("e2e-teardown.sh", [], quick);
            assert.equal(run.status, 0, run.stderr);
            assert.equal(run.calls[0], "pulumi destroy --stack local --yes --skip-preview");
        });

        it("fails when a namespace or a resource in the state is left", () => {
            repo.state("initial", { name: "kafka" }).state("destroy", { name: "kafka" });
            const run = repo.run("e2e-teardown.sh", [], { ...quick, FAKE_NAMESPACES: "namespace/kafka\n" });
            assert.notEqual(run.status, 0);
            assert.match(run.stderr, /the state still holds:\n.*test:Thing::kafka/);
            assert.match(run.stderr, /left in the cluster after 0s:\nnamespace\/kafka/);
        });
    });
});
