import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Postgresql } from "../components/data";
import { schemaJobName } from "../components/data/postgresqlSchema";
import { onRegistration, PROJECT_NAME, PROJECT_ROOT, RecordedResource, StackRun, byUrn, ofType, single, waitsFor } from "../offline/harness";
import { restrictedProblems } from "../offline/podSecurity";
import { evaluated, evaluatedWithChangedFile, release, secretNamed, values } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

const JOB = TYPES.job;
const DEPLOYMENT = TYPES.deployment;
const COMPONENT = "streaming-platform:data:Postgresql";
const STACKS = ["dev", "prod", "local"];
const INITDB_TEMPLATE = path.join(PROJECT_ROOT, "helm-values", "postgresql-initdb.sql");

const schemaJob = (run: StackRun) => single(run, JOB);
const podSpec = (run: StackRun) => schemaJob(run).inputs.spec.template.spec;
const psql = (run: StackRun) => podSpec(run).containers[0];
const envOf = (container: any): Record<string, any> => Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
/** The rendered script the chart's initdb and the Job read, from its Secret. */
const script = (run: StackRun): string =>
    Object.values<string>(secretNamed(run, "postgresql", values(run, "postgresql").primary.initdb.scriptsSecret).inputs.stringData)[0];

interface JobRegistration {
    readonly inputs: any;
    readonly deleteBeforeReplace: boolean;
    readonly replaceOnChanges: string[];
    readonly protect: boolean;
}

/** The Job of a Postgresql component built on its own under mocks, and the options it was registered with. */
async function componentJob(databases: string[], passwordSeed = ""): Promise<JobRegistration> {
    const jobs: JobRegistration[] = [];
    const failures: unknown[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const result =
                    args.type === TYPES.randomPassword
                        ? {
                              result: createHash("sha256")
                                  .update(passwordSeed + args.name)
                                  .digest("hex")
                                  .slice(0, args.inputs.length),
                          }
                        : {};
                return { id: args.custom ? `${args.name}-id` : undefined, state: { ...args.inputs, ...result } };
            },
            call: (args) => args.inputs,
        },
        PROJECT_NAME,
        "component",
        false,
    );
    onRegistration(
        (req) => {
            if (req.getType() === JOB) {
                jobs.push({
                    inputs: req.getObject()?.toJavaScript(),
                    deleteBeforeReplace: req.getDeletebeforereplace(),
                    replaceOnChanges: req.getReplaceonchangesList(),
                    protect: req.getProtect(),
                });
            }
        },
        (error) => failures.push(error),
    );
    const component = new Postgresql(
        "postgresql",
        {
            namespace: "postgresql",
            cpu: "250m",
            memory: "512Mi",
            storage: "10Gi",
            databases,
            readReplicas: 0,
            imageRegistry: "docker.io",
            retainVolumes: true,
            zoneSpread: false,
        },
        { protect: true },
    );
    await (component.schema.metadata.name as any).promise();
    await settings.waitForRPCs();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(failures, []);
    assert.equal(jobs.length, 1);
    return jobs[0];
}

describe("PostgreSQL schema Job", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of STACKS) {
            runs[stack] = await evaluated(stack);
        }
    });

    for (const stack of STACKS) {
        describe(stack, () => {
            it("is a Job of the PostgreSQL component, named after the script it applies", () => {
                const run = runs[stack];
                const job = schemaJob(run);
                assert.equal(byUrn(run, job.parent!)?.type, COMPONENT);
                assert.equal(job.inputs.metadata.namespace, "postgresql");
                assert.equal(job.inputs.metadata.name, schemaJobName(script(run)));
                assert.match(job.inputs.metadata.name, /^postgresql-schema-[0-9a-f]{12}$/);
                assert.equal(
                    job.inputs.spec.template.metadata.annotations["streaming-platform/schema-revision"],
                    job.inputs.metadata.name.replace("postgresql-schema-", ""),
                );
                assert.equal(job.secretInputs.size, 0, "nothing secret in the Job: previews show it in full");
            });

            it("runs psql with ON_ERROR_STOP as the admin user against the primary's Service", () => {
                const run = runs[stack];
                const container = psql(run);
                assert.deepEqual(container.command.slice(0, 1), ["psql"]);
                const args: string[] = container.command.slice(1);
                const option = (name: string, value: string) => args.some((arg, i) => arg === name && args[i + 1] === value);
                assert.ok(option("-v", "ON_ERROR_STOP=1"), "psql must stop at the first error, and fail the Job");
                // No psqlrc; an error message without the statement, which may carry a password.
                assert.ok(args.includes("-X") && option("-v", "VERBOSITY=terse"));
                const env = envOf(container);
                assert.equal(env.PGHOST, "postgresql-primary.postgresql.svc.cluster.local");
                assert.equal(env.PGPORT, "5432");
                assert.equal(env.PGUSER, "postgres");
                assert.equal(env.PGDATABASE, "postgres");
                assert.equal(`${env.PGHOST}:${env.PGPORT}`, run.outputs.postgresqlService);
                // The script the Job runs is the one the template renders, for every database.
                const file = args[args.indexOf("-f") + 1];
                const mount = container.volumeMounts.find((m: any) => file.startsWith(`${m.mountPath}/`));
                const volume = podSpec(run).volumes.find((v: any) => v.name === mount.name);
                assert.equal(volume.secret.secretName, values(run, "postgresql").primary.initdb.scriptsSecret);
                assert.deepEqual(volume.secret.items, [
                    {
                        key: Object.keys(secretNamed(run, "postgresql", volume.secret.secretName).inputs.stringData)[0],
                        path: file.slice(mount.mountPath.length + 1),
                    },
                ]);
                assert.deepEqual(
                    [...script(run).matchAll(/\\set db (\w+)\n/g)].map((m) => m[1]),
                    ["airflow", "pipeline"],
                );
                assert.ok(script(run).includes(fs.readFileSync(INITDB_TEMPLATE, "utf8")));
                assert.match(fs.readFileSync(INITDB_TEMPLATE, "utf8"), /^\\set ON_ERROR_STOP on$/m, "the script stops on error however it is run");
            });

            it("gets the admin password and the script from Secrets by reference, never as literals", () => {
                const run = runs[stack];
                const env = envOf(psql(run));
                const pg = values(run, "postgresql");
                assert.deepEqual(env.PGPASSWORD, { secretKeyRef: { name: pg.auth.existingSecret, key: pg.auth.secretKeys.adminPasswordKey } });
                assert.ok(pg.auth.secretKeys.adminPasswordKey in secretNamed(run, "postgresql", pg.auth.existingSecret).inputs.stringData);
                const plain = JSON.stringify(schemaJob(run).inputs);
                assert.ok(run.generated.length > 0);
                for (const value of run.generated) {
                    assert.ok(!plain.includes(value), "a generated secret in the Job's spec");
                }
            });

            it("uses the chart's own PostgreSQL image, from the release's registry at its locked digest", () => {
                const run = runs[stack];
                const image = values(run, "postgresql").image;
                assert.equal(psql(run).image, `${image.registry}/${image.repository}:${image.tag}@${image.digest}`);
                assert.equal(run.outputs.imageRegistry, image.registry);
            });

            it("runs after the release is ready, and Airflow and the streaming job wait for it", () => {
                const run = runs[stack];
                const job = schemaJob(run);
                assert.ok(job.dependencies.includes(release(run, "postgresql").urn), "the Job must wait for the release itself");
                for (const secret of ["postgresql-admin", "postgresql-initdb"]) {
                    assert.ok(waitsFor(run, job, secretNamed(run, "postgresql", secret)), `the Job must wait for ${secret}`);
                }
                assert.ok(waitsFor(run, release(run, "airflow"), job), "Airflow migrates its database: it must exist first");
                const stream = ofType(run, DEPLOYMENT).find((d) => d.inputs.metadata.name === "crypto-ticks-stream") as RecordedResource;
                assert.ok(stream, "no streaming job");
                assert.ok(waitsFor(run, stream, job), "the streaming job writes to the pipeline database: it must exist first");
                assert.ok(!waitsFor(run, job, release(run, "airflow")), "a cycle");
            });

            it("is a valid batch/v1 Job by the Kubernetes API's schema", () => {
                const job = schemaJob(runs[stack]).inputs;
                assert.equal(job.apiVersion, "batch/v1");
                assert.equal(job.kind, "Job");
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const { Job } = require("kubernetes-models/batch/v1") as { Job: new (data: unknown) => { validate(): void } };
                new Job(job).validate();
            });

            it("is never protected, so a changed script can replace it", () => {
                const run = runs[stack];
                const job = schemaJob(run);
                assert.equal(job.protect, false);
                assert.equal(job.inputs.metadata.annotations["pulumi.com/replaceUnready"], "true", "a failed run is retried by the next update");
                assert.equal(job.inputs.spec.ttlSecondsAfterFinished, undefined, "a Job deleting itself would drift from the state");
            });

            it("meets Pod Security 'restricted', with a read-only root, no service account token and bounded retries", () => {
                const run = runs[stack];
                const spec = podSpec(run);
                assert.deepEqual(restrictedProblems(spec), []);
                assert.equal(spec.automountServiceAccountToken, false);
                assert.equal(spec.restartPolicy, "Never");
                for (const container of spec.containers) {
                    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
                    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
                }
                const job = schemaJob(run).inputs.spec;
                assert.ok(job.backoffLimit >= 0 && job.backoffLimit <= 3, `backoffLimit ${job.backoffLimit}`);
                assert.ok(job.activeDeadlineSeconds > 0 && job.activeDeadlineSeconds <= 600, `activeDeadlineSeconds ${job.activeDeadlineSeconds}`);
            });
        });
    }

    it("is protected nowhere, although prod protects the PostgreSQL component and so its other children", () => {
        const prod = runs.prod;
        const component = single(prod, COMPONENT);
        assert.equal(component.protect, true);
        assert.equal(release(prod, "postgresql").protect, true, "children inherit protect");
        assert.equal(schemaJob(prod).protect, false);
    });

    it("finds restricted-profile violations (the check above is not vacuous)", () => {
        const spec = JSON.parse(JSON.stringify(podSpec(runs.dev)));
        spec.hostNetwork = true;
        spec.volumes.push({ name: "host", hostPath: { path: "/" } });
        spec.containers[0].securityContext = {
            ...spec.containers[0].securityContext,
            allowPrivilegeEscalation: true,
            capabilities: { add: ["SYS_ADMIN"] },
        };
        delete spec.securityContext.seccompProfile;
        delete spec.containers[0].securityContext.seccompProfile;
        assert.equal(restrictedProblems(spec).length, 6);
    });

    describe("runs again whenever what it applies changes", () => {
        it("a new Job for another database list, the same Job for the same one", async () => {
            const two = await componentJob(["airflow", "pipeline"]);
            const sameAgain = await componentJob(["airflow", "pipeline"]);
            const three = await componentJob(["airflow", "pipeline", "metrics"]);
            assert.equal(two.inputs.metadata.name, sameAgain.inputs.metadata.name, "an unchanged script must not rerun the Job");
            assert.notEqual(three.inputs.metadata.name, two.inputs.metadata.name);
            // A changed name replaces the Job; any other change to its immutable template replaces it under the
            // same name, which only works by deleting the old one first.
            assert.equal(three.deleteBeforeReplace, true);
            assert.deepEqual(three.replaceOnChanges, ["spec.template"]);
            assert.equal(three.protect, false, "protected component, unprotected Job");
        });

        it("a new Job for changed passwords", async () => {
            const before = await componentJob(["airflow", "pipeline"]);
            const rotated = await componentJob(["airflow", "pipeline"], "rotated");
            assert.notEqual(rotated.inputs.metadata.name, before.inputs.metadata.name);
        });

        it("a new Job for a changed SQL template", async () => {
            const changed = await evaluatedWithChangedFile(INITDB_TEMPLATE, "\n-- changed by a test\n", "dev");
            assert.ok(script(changed).includes("-- changed by a test"));
            assert.notEqual(schemaJob(changed).inputs.metadata.name, schemaJob(runs.dev).inputs.metadata.name);
            assert.equal(schemaJob(changed).inputs.metadata.name, schemaJobName(script(changed)));
        });
    });
});
