import { strict as assert } from "assert";
import { evaluated } from "../offline/stackQueries";
import { ConfigOverrides, ofType, runStack } from "../offline/harness";
import { TYPES } from "../offline/resourceTypes";

describe("pause and pool configuration", function () {
    this.timeout(120000);

    it("paused scales every pool to zero with autoscaling off and keeps the same pools, releases and Secrets", async () => {
        const running = await evaluated("dev");
        const paused = await evaluated("dev", { paused: true });
        const pools = ofType(paused, TYPES.nodePool);
        assert.deepEqual(
            pools.map((p) => p.name),
            ofType(running, TYPES.nodePool).map((p) => p.name),
        );
        for (const pool of pools) {
            assert.equal(pool.inputs.nodeCount, 0, pool.name);
            assert.equal(pool.inputs.autoscaling, undefined, pool.name);
        }
        const urns = (run: typeof running) => run.resources.map((r) => r.urn).sort();
        assert.deepEqual(urns(paused), urns(running), "nothing is created or deleted by pausing");
    });

    const refused = async (overrides: ConfigOverrides, stack = "dev") => {
        const run = await runStack(stack, overrides);
        assert.ok(run.error, `${JSON.stringify(overrides)} was accepted`);
        return run.error.message;
    };

    it("refuses paused on a stack with deletion protection unless explicitly allowed", async () => {
        assert.match(
            await refused({ paused: true }, "prod"),
            /streaming-platform:paused = "true": .*deletionProtection.*allowPauseWithDeletionProtection/,
        );
        const allowed = await runStack("prod", { paused: true, allowPauseWithDeletionProtection: true });
        assert.equal(allowed.error, undefined);
    });

    it("refuses the state on Spot where data is protected, max < min and an unknown machine type, naming the key", async () => {
        assert.match(
            await refused({ nodeSpot: true }, "prod"),
            /streaming-platform:nodeSpot = "true": false where deletionProtection is on: the node pool holds Kafka's quorum and PostgreSQL/,
        );
        assert.match(
            await refused({ nodeSpot: true, deletionProtection: true }),
            /streaming-platform:nodeSpot = "true": false where deletionProtection is on/,
        );
        assert.equal((await runStack("dev", { nodeSpot: false })).error, undefined, "dev may keep its state on-demand");
        assert.match(
            await refused({ spotPool: true, spotMinCount: 3, spotMaxCount: 2 }),
            /streaming-platform:spotMaxCount = "2": an integer >= spotMinCount \(3\)/,
        );
        assert.match(await refused({ nodeMinCount: 4, nodeMaxCount: 3 }), /streaming-platform:nodeMaxCount = "3": an integer >= nodeMinCount \(4\)/);
        assert.match(
            await refused({ spotPool: true, spotMachineType: "e2-mega-4" }),
            /streaming-platform:spotMachineType = "e2-mega-4": has series "mega"/,
        );
        assert.match(
            await refused({ nodeMachineType: "x9-standard-4" }),
            /streaming-platform:nodeMachineType = "x9-standard-4": is not a known machine type/,
        );
        assert.match(await refused({ paused: true }, "local"), /streaming-platform:paused = "true": .*kubeconfig/);
    });
});
