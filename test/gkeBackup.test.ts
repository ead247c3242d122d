import { strict as assert } from "assert";
import { ConfigError } from "../config";
import { ofType, single, StackRun } from "../offline/harness";
import { evaluated } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

const PLAN = "gcp:gkebackup/backupPlan:BackupPlan";
const KEY_GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember";
const cluster = (run: StackRun) => single(run, TYPES.cluster).inputs;

describe("Backup for GKE", () => {
    it("prod: the agent add-on and a daily plan for kafka and postgresql, volumes and Secrets included", async () => {
        const run = await evaluated("prod");
        assert.deepEqual(cluster(run).addonsConfig?.gkeBackupAgentConfig, { enabled: true });
        const plan = single(run, PLAN);
        assert.deepEqual(plan.inputs.backupConfig.selectedNamespaces.namespaces, ["kafka", "postgresql"]);
        assert.equal(plan.inputs.backupConfig.includeVolumeData, true);
        assert.equal(plan.inputs.backupConfig.includeSecrets, true);
        assert.equal(plan.inputs.backupConfig.allNamespaces, undefined);
        assert.equal(plan.inputs.backupSchedule.cronSchedule, "0 3 * * *", "the default of gkeBackupSchedule");
        assert.equal(plan.inputs.retentionPolicy.backupRetainDays, 14, "the default of gkeBackupRetainDays");
        assert.equal(plan.inputs.location, "us-central1", "the cluster's region: no backup crosses regions");
        assert.ok(
            ofType(run, TYPES.projectService).some((s) => s.inputs.service === "gkebackup.googleapis.com"),
            "the API is enabled",
        );
    });

    it("prod: encrypts the backups with the stack's Secrets key, the Backup for GKE agent granted on that key only", async () => {
        const run = await evaluated("prod");
        const plan = single(run, PLAN);
        const key = cluster(run).databaseEncryption.keyName;
        assert.equal(plan.inputs.backupConfig.encryptionKey.gcpKmsEncryptionKey, key);
        const grant = ofType(run, KEY_GRANT).find((g) => /gcp-sa-gkebackup/.test(g.inputs.member))!;
        assert.ok(grant, "a grant for the Backup for GKE service agent");
        assert.equal(grant.inputs.cryptoKeyId, key);
        assert.equal(grant.inputs.role, "roles/cloudkms.cryptoKeyEncrypterDecrypter");
        assert.ok(plan.dependencies.includes(grant.urn), "the plan waits for the grant");
    });

    it("dev and local: no plan, no add-on", async () => {
        for (const stack of ["dev", "local"]) {
            const run = await evaluated(stack);
            assert.deepEqual(ofType(run, PLAN), [], stack);
            if (stack === "dev") {
                assert.equal(cluster(run).addonsConfig, undefined);
                assert.ok(!ofType(run, TYPES.projectService).some((s) => s.inputs.service === "gkebackup.googleapis.com"));
            }
        }
    });

    it("follows the schedule and retention from config", async () => {
        const run = await evaluated("prod", { gkeBackupSchedule: "30 1 * * 0", gkeBackupRetainDays: 35 });
        const plan = single(run, PLAN);
        assert.equal(plan.inputs.backupSchedule.cronSchedule, "30 1 * * 0");
        assert.equal(plan.inputs.retentionPolicy.backupRetainDays, 35);
    });

    it("with projectSetup bootstrap: the plan names bootstrap's key and grants nothing (bootstrap/ granted the agent)", async () => {
        const run = await evaluated("prod", { projectSetup: "bootstrap" });
        const plan = single(run, PLAN);
        assert.equal(plan.inputs.backupConfig.encryptionKey.gcpKmsEncryptionKey, cluster(run).databaseEncryption.keyName);
        assert.equal(ofType(run, KEY_GRANT).filter((g) => /gcp-sa-gkebackup/.test(g.inputs.member)).length, 0);
    });

    it("refuses a malformed schedule or retention, naming the key", async () => {
        for (const [overrides, key] of [
            [{ gkeBackupSchedule: "@daily" }, "gkeBackupSchedule"],
            [{ gkeBackupSchedule: "every night" }, "gkeBackupSchedule"],
            [{ gkeBackupRetainDays: 0 }, "gkeBackupRetainDays"],
            [{ gkeBackupRetainDays: 366 }, "gkeBackupRetainDays"],
        ] as const) {
            await assert.rejects(evaluated("prod", overrides), (error: unknown) => {
                const message = String((error as ConfigError).message ?? error);
                assert.ok(message.includes(`streaming-platform:${key}`), `${key} in ${message}`);
                return true;
            });
        }
    });
});
