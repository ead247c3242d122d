import { strict as assert } from "assert";
import { DASHBOARD_COLUMNS, DASHBOARD_TILES, NO_NOTIFICATIONS } from "../components/gcp/monitoring";
import { isEmailAddress, scheduleIntervalSeconds } from "../config/monitoring";
import { ofType, runStack, StackRun, TEST_PROJECT } from "../offline/harness";
import { runbookAnchors } from "../offline/runbook";

const POLICY = "gcp:monitoring/alertPolicy:AlertPolicy";
const CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel";
const DASHBOARD = "gcp:monitoring/dashboard:Dashboard";

/** Each alert the issue asks for, by its rule name, with the metrics its PromQL must read. */
const ALERTS: Record<string, RegExp[]> = {
    CryptoTicksStale: [/crypto_ticks_newest_event_time_seconds/],
    CryptoTicksConsumerLagGrowing: [/crypto_ticks_consumer_lag/],
    StreamingJobNotProgressing: [
        /crypto_ticks_last_batch_timestamp_seconds/,
        /kubernetes_io:container_restart_count\{[^}]*pod_name=~"crypto-ticks-stream-\.\*"/,
    ],
    CryptoPricesDagFailing: [/airflow_dagrun_failed_count\{[^}]*dag_id="crypto_prices"/, /airflow_crypto_ticks_failed/],
    KafkaPartitionsUnhealthy: [
        /kafka_server_replicamanager_total_underreplicatedpartitions_value/,
        /kafka_controller_kafkacontroller_offlinepartitionscount_value/,
    ],
    PostgresqlDown: [/pg_up\{[^}]*\}\) == 0/, /absent\(pg_up/],
    PostgresqlVolumeFilling: [/kubernetes_io:pod_volume_utilization\{[^}]*namespace_name="postgresql",volume_name="data"\}\) > 0\.8/],
    PodCrashLooping: [/kubernetes_io:container_restart_count\{[^}]*namespace_name=~"kafka\|postgresql\|spark\|airflow"/],
};

function policies(run: StackRun) {
    return ofType(run, POLICY).map((policy) => ({
        policy,
        rule: policy.inputs.conditions[0].conditionPrometheusQueryLanguage.alertRule as string,
        queries: (policy.inputs.conditions as any[]).map((c) => c.conditionPrometheusQueryLanguage.query as string),
    }));
}

describe("alerting: alert policies, notification channels and the dashboard (Cloud Monitoring)", () => {
    it("dev as committed makes no alert policy, keeps its dashboard and says where to look", async () => {
        const run = await runStack("dev");
        assert.equal(run.error, undefined, run.error?.stack);
        assert.deepEqual(ofType(run, "gcp:monitoring/alertPolicy:AlertPolicy"), []);
        assert.equal(ofType(run, "gcp:monitoring/dashboard:Dashboard").length, 1);
        assert.match(String((run.outputs.alerting as any).notifications), /alert policies off .*watch the dashboard/);
    });

    for (const stack of ["dev", "prod"]) {
        describe(stack, () => {
            let run: StackRun;
            before(async () => {
                // dev turns its policies off (Pulumi.dev.yaml); here both stacks make them, as prod does.
                run = await runStack(stack, { alertPolicies: true });
                assert.equal(run.error, undefined, run.error?.message);
            });

            it("has one alert policy per required alert, each with PromQL on the right metrics, scoped to the cluster", () => {
                const found = policies(run);
                assert.deepEqual(found.map((p) => p.rule).sort(), Object.keys(ALERTS).sort());
                for (const { policy, rule, queries } of found) {
                    assert.equal(policy.inputs.project, TEST_PROJECT);
                    assert.equal(policy.inputs.combiner, "OR");
                    for (const metric of ALERTS[rule]) {
                        assert.ok(
                            queries.some((q) => metric.test(q)),
                            `${rule}: no query matches ${metric}: ${queries.join(" | ")}`,
                        );
                    }
                    for (const condition of policy.inputs.conditions) {
                        const promql = condition.conditionPrometheusQueryLanguage;
                        assert.ok(/cluster(_name)?="gke"/.test(promql.query), `${rule}: not scoped to the cluster: ${promql.query}`);
                        assert.match(promql.duration, /^[0-9]+s$/);
                        assert.equal(promql.disableMetricValidation, true, `${rule}: metrics appear only once scraped`);
                    }
                }
            });

            it("documents every alert with a link to an existing runbook section", () => {
                const anchors = runbookAnchors();
                for (const { policy, rule } of policies(run)) {
                    const content: string = policy.inputs.documentation.content;
                    const link = /docs\/runbook\.md#([a-z0-9-]+)/.exec(content);
                    assert.ok(link, `${rule}: no runbook link in ${content}`);
                    assert.ok(anchors.has(link[1]), `${rule}: docs/runbook.md has no heading with anchor #${link[1]}`);
                    assert.ok(link[1].startsWith("alert-"), `${rule}: links a section of its own`);
                }
                assert.ok(anchors.has("10-alerts"), "the alerts' overview section");
            });

            it("derives the freshness threshold from the poll schedule: 5 polls of 60 s and one 30 s micro-batch", () => {
                const stale = policies(run).find((p) => p.rule === "CryptoTicksStale")!;
                assert.ok(
                    stale.queries.some((q) => q.endsWith("> 330")),
                    stale.queries.join(" | "),
                );
                for (const symbol of ["bitcoin", "ethereum", "solana"]) {
                    assert.ok(
                        stale.queries.some((q) => q.includes(`absent(crypto_ticks_newest_event_time_seconds{cluster="gke",symbol="${symbol}"})`)),
                    );
                }
            });

            it("has no notification channel and says so in the alerting output", () => {
                assert.deepEqual(ofType(run, CHANNEL), []);
                for (const { policy } of policies(run)) {
                    assert.deepEqual(policy.inputs.notificationChannels ?? [], []);
                }
                const alerting = run.outputs.alerting as any;
                assert.equal(alerting.notifications, NO_NOTIFICATIONS);
                assert.match(alerting.notifications, /none configured/);
                assert.equal(alerting.policies.length, Object.keys(ALERTS).length);
                assert.ok(alerting.policies.every((name: string) => name.startsWith(`[${stack}] `)));
            });

            it("builds a valid dashboard with every required chart, each on PromQL, tiles inside the grid and not overlapping", () => {
                const dashboards = ofType(run, DASHBOARD);
                assert.equal(dashboards.length, 1);
                const json = JSON.parse(dashboards[0].inputs.dashboardJson);
                assert.equal(typeof json.displayName, "string");
                assert.equal(json.mosaicLayout.columns, DASHBOARD_COLUMNS);
                const tiles: any[] = json.mosaicLayout.tiles;
                const titles = tiles.map((tile) => tile.widget.title);
                for (const title of DASHBOARD_TILES) {
                    assert.ok(titles.includes(title), `no chart "${title}"`);
                }
                for (const required of [
                    /Ticks produced/,
                    /Rows written/,
                    /Freshness per symbol/,
                    /lag/i,
                    /Batch duration/,
                    /DAG success/,
                    /Kafka/,
                    /PostgreSQL/,
                    /Node CPU/,
                    /Pod CPU/,
                    /Pod memory/,
                ]) {
                    assert.ok(
                        titles.some((t) => required.test(t)),
                        String(required),
                    );
                }
                const cells = new Set<string>();
                for (const tile of tiles) {
                    assert.ok(tile.xPos >= 0 && tile.width > 0 && tile.xPos + tile.width <= DASHBOARD_COLUMNS, JSON.stringify(tile));
                    for (let x = tile.xPos; x < tile.xPos + tile.width; x++) {
                        for (let y = tile.yPos; y < tile.yPos + tile.height; y++) {
                            assert.ok(!cells.has(`${x},${y}`), `tiles overlap at ${x},${y}`);
                            cells.add(`${x},${y}`);
                        }
                    }
                    for (const dataSet of tile.widget.xyChart?.dataSets ?? []) {
                        const query: string = dataSet.timeSeriesQuery.prometheusQuery;
                        assert.ok(query.length > 0 && /cluster(_name)?="gke"/.test(query), `${tile.widget.title}: ${query}`);
                        assert.equal((query.match(/\(/g) ?? []).length, (query.match(/\)/g) ?? []).length, `unbalanced: ${query}`);
                    }
                }
                const freshness = tiles.find((tile) => tile.widget.title.startsWith("Freshness"));
                assert.equal(freshness.widget.xyChart.thresholds[0].value, 330);
            });

            it("reads only metrics something collects: GKE's system metrics, or a PodMonitoring of the stack", () => {
                const dashboard = JSON.parse(ofType(run, DASHBOARD)[0].inputs.dashboardJson);
                const queries = [
                    ...policies(run).flatMap((p) => p.queries),
                    ...dashboard.mosaicLayout.tiles.flatMap((tile: any) =>
                        (tile.widget.xyChart?.dataSets ?? []).map((d: any) => d.timeSeriesQuery.prometheusQuery),
                    ),
                ];
                const metrics = new Set(queries.flatMap((query: string) => [...query.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1])));
                const monitored = new Set(
                    ofType(run, "kubernetes:monitoring.googleapis.com/v1:PodMonitoring").map(
                        (m) => `${m.inputs.metadata.namespace}/${m.inputs.metadata.name}`,
                    ),
                );
                // GKE collects its system metrics with SYSTEM_COMPONENTS; Managed Prometheus collects what a PodMonitoring
                // selects, and kubelet or cAdvisor metrics only with kubelet scraping, which the program leaves off.
                const cluster = ofType(run, "gcp:container/cluster:Cluster")[0].inputs;
                assert.ok(cluster.monitoringConfig.enableComponents.includes("SYSTEM_COMPONENTS"));
                const scrapedBy: [RegExp, string][] = [
                    [/^kafka_/, "kafka/kafka"],
                    [/^pg_/, "postgresql/postgresql"],
                    [/^airflow_/, "airflow/airflow"],
                    [/^crypto_ticks_/, "spark/crypto-ticks-stream"],
                ];
                for (const metric of metrics) {
                    if (metric.startsWith("kubernetes_io:")) continue;
                    const source = scrapedBy.find(([family]) => family.test(metric))?.[1];
                    assert.ok(source && monitored.has(source), `${metric}: no PodMonitoring of the stack collects it`);
                }
            });

            it("exports the dashboard's console URL", () => {
                assert.equal(
                    run.outputs.monitoringDashboardUrl,
                    `https://console.cloud.google.com/monitoring/dashboards/builder/monitoring-dashboard-id?project=${TEST_PROJECT}`,
                );
            });
        });
    }

    it("makes an email channel per address and attaches every channel to every policy", async () => {
        const emails = ["oncall@example.com", "data-team@example.org"];
        const run = await runStack("dev", { alertPolicies: true, alertEmails: emails });
        assert.equal(run.error, undefined, run.error?.message);
        const channels = ofType(run, CHANNEL);
        assert.deepEqual(channels.map((c) => c.inputs.labels.email_address).sort(), [...emails].sort());
        for (const channel of channels) {
            assert.equal(channel.inputs.type, "email");
            assert.equal(channel.inputs.project, TEST_PROJECT);
        }
        const ids = channels.map((c) => `${c.name}-id`).sort();
        for (const { policy, rule } of policies(run)) {
            assert.deepEqual([...policy.inputs.notificationChannels].sort(), ids, rule);
        }
        assert.deepEqual((run.outputs.alerting as any).notifications, emails);
    });

    it("links the runbook by URL with runbookBaseUrl", async () => {
        const base = "https://github.com/acme/streaming-platform/blob/main/docs/runbook.md";
        const run = await runStack("dev", { alertPolicies: true, runbookBaseUrl: base });
        assert.equal(run.error, undefined, run.error?.message);
        for (const { policy, rule } of policies(run)) {
            const links = policy.inputs.documentation.links;
            assert.equal(links.length, 1, rule);
            assert.ok(links[0].url.startsWith(`${base}#alert-`), links[0].url);
            assert.ok(policy.inputs.documentation.content.includes(`](${links[0].url})`), rule);
        }
    });

    it("follows a slower poll schedule: every 5 minutes gives 5 × 300 + 30 s", async () => {
        const run = await runStack("dev", { alertPolicies: true, pollSchedule: "*/5 * * * *" });
        assert.equal(run.error, undefined, run.error?.message);
        const stale = policies(run).find((p) => p.rule === "CryptoTicksStale")!;
        assert.ok(
            stale.queries.some((q) => q.endsWith("> 1530")),
            stale.queries.join(" | "),
        );
    });

    const invalid: [string, Record<string, unknown>, string, RegExp][] = [
        ["an address without a domain", { alertEmails: ["oncall"] }, "alertEmails", /email addresses/],
        ["an address with a space", { alertEmails: ["on call@example.com"] }, "alertEmails", /email addresses/],
        ["the same address twice", { alertEmails: ["a@example.com", "A@example.com"] }, "alertEmails", /distinct/],
        ["a list that is no list", { alertEmails: "oncall@example.com" }, "alertEmails", /list of strings/],
        ["a runbook URL over http", { runbookBaseUrl: "http://example.com/runbook.md" }, "runbookBaseUrl", /https URL/],
        ["a runbook URL with an anchor", { runbookBaseUrl: "https://example.com/runbook.md#x" }, "runbookBaseUrl", /without #anchor/],
        ["no freshness polls", { alertFreshnessPolls: 0 }, "alertFreshnessPolls", /integer from 1/],
        ["a schedule that does not repeat", { pollSchedule: "@once" }, "pollSchedule", /repeats/],
    ];
    for (const [what, overrides, key, allowed] of invalid) {
        it(`refuses ${what}, naming ${key}`, async () => {
            const run = await runStack("dev", overrides as any);
            assert.equal(run.error?.name, "ConfigError", `accepted ${JSON.stringify(overrides)}`);
            const problems = run.error!.message.split("\n").filter((line) => line.includes(`streaming-platform:${key} = `));
            assert.equal(problems.length, 1, run.error!.message);
            assert.match(problems[0], allowed);
            assert.deepEqual(ofType(run, POLICY), [], "nothing is created");
        });
    }

    it("creates no Google Cloud resource and no monitoring output on the local stack, and refuses emails there", async () => {
        const run = await runStack("local");
        assert.equal(run.error, undefined, run.error?.message);
        assert.deepEqual(
            run.resources.filter((r) => r.type.startsWith("gcp:")).map((r) => r.type),
            [],
        );
        assert.equal(run.outputs.alerting, undefined);
        assert.equal(run.outputs.monitoringDashboardUrl, undefined);
        const refused = await runStack("local", { alertEmails: ["oncall@example.com"] });
        assert.match(refused.error?.message ?? "", /streaming-platform:alertEmails = .*GKE stacks/);
    });

    it("reads a poll schedule's longest gap", () => {
        const cases: [string, number | undefined][] = [
            ["*/1 * * * *", 60],
            ["* * * * *", 60],
            ["*/5 * * * *", 300],
            ["0,10,40 * * * *", 1800],
            ["0 * * * *", 3600],
            ["0 9-17 * * MON-FRI", 64 * 3600],
            ["0 0 1 * *", 31 * 86_400],
            ["@hourly", 3600],
            ["@daily", 86_400],
            ["@continuous", 60],
            ["@once", undefined],
            ["61 * * * *", undefined],
            ["0 0 30 2 *", undefined],
        ];
        for (const [schedule, seconds] of cases) {
            assert.equal(scheduleIntervalSeconds(schedule), seconds, schedule);
        }
    });

    it("tells email addresses from other strings", () => {
        for (const good of ["oncall@example.com", "first.last+alerts@sub.example.co.uk"]) {
            assert.ok(isEmailAddress(good), good);
        }
        for (const bad of ["oncall", "oncall@localhost", "@example.com", "a b@example.com", "a@@example.com", "a..b@example.com", ".a@example.com"]) {
            assert.ok(!isEmailAddress(bad), bad);
        }
    });
});
