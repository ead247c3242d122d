/**
 * Step 1 and step 2 of a Kafka CA rotation (docs/runbook.md: trust both CAs, then re-issue from the new one)
 * of one stack, rendered like engines/bundle.ts and issued as ONE PKI: the same CA keys and certificates in
 * both, the brokers' and the Job's certificates signed by CA 1 in step 1 and by CA 2 in step 2. What the
 * pods of either step hold, so engines/kafka_ca_rotation.py can put them against each other.
 *
 *     ts-node --transpile-only engines/rotationBundle.ts STACK STEP1.json STEP2.json
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Manifest, renderStack } from "../offline/render";
import { assertNoStandIns, issueCertificates, substitute } from "./bundle";

/** The config of each step, as the runbook sets it. */
const STEPS = [
    { kafkaTrustedCas: "[1,2]", kafkaSigningCa: 1 },
    { kafkaTrustedCas: "[1,2]", kafkaSigningCa: 2 },
];

async function main(stack: string, outs: string[]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "engines-rotation-pki-"));
    try {
        let shared = new Map<string, string>();
        for (const [i, overrides] of STEPS.entries()) {
            const { run, objects, releases } = await renderStack(stack, overrides);
            const real = issueCertificates(run.resources, dir, shared);
            shared = real;
            const bundle = {
                stack,
                releases: releases.map((r) => ({ chart: r.chart, namespace: r.namespace })),
                objects: substitute(objects, real),
            };
            assertNoStandIns(bundle.objects as Manifest[], [...real.keys()]);
            fs.writeFileSync(outs[i], JSON.stringify(bundle, null, 1), { mode: 0o600 });
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    const [stack, ...outs] = process.argv.slice(2);
    if (!stack || outs.length !== STEPS.length) {
        console.error("usage: engines/rotationBundle.ts STACK STEP1.json STEP2.json");
        process.exit(64);
    }
    main(stack, outs).catch((error) => {
        console.error(error);
        process.exit(1);
    });
}
