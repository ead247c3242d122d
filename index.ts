import * as pulumi from "@pulumi/pulumi";
import {
    Airflow,
    BACKUP_SERVICE_ACCOUNT,
    BackupTarget,
    chartImage,
    Kafka,
    lockedImages,
    Postgresql,
    PostgresqlBackup,
    Spark,
} from "./components/data";
import { CLIENT_CA_DIR as POSTGRESQL_CA_DIR } from "./components/data/postgresqlTls";
import { RegionalDiskStorageClass } from "./components/gcp/regionalDiskStorageClass";
import { AIRFLOW_SERVICE_ACCOUNT, AirflowTaskLogs } from "./components/data/airflow";
import { EventLogTarget, SPARK_HISTORY_SERVICE_ACCOUNT, SparkHistory } from "./components/data/sparkHistory";
import { LOG_PREFIXES, LogBucket, logBucketName, logServiceAccountEmail, LogWriter } from "./components/gcp/logBucket";
import { DRIVER_SERVICE_ACCOUNT } from "./components/pipeline/streamingJob";
import { PipelineMonitoring } from "./components/gcp/monitoring";
import { GKE_BACKUP_API, GKE_BACKUP_NAMESPACES, GkeBackup } from "./components/gcp/gkeBackup";
import {
    BackupBucket,
    backupBucketName,
    backupServiceAccountEmail,
    artifactRegistryAddress,
    bitnamiRepositoryId,
    BinaryAuthorizationPolicy,
    BitnamiImages,
    DockerHubMirror,
    dockerRepositoryId,
    GkeCluster,
    Network,
    nodeServiceAccountId,
    PLATFORM_APIS,
    ProjectApis,
    SecretsKey,
    secretsKeyName,
    secretsKeyRingId,
    UiAddresses,
} from "./components/gcp";
import { ExistingCluster, NetworkIsolation, NO_POOLS, PodMonitorings, PoolLayout, scrapeFlows } from "./components/k8s";
import { airflowRequirements, dagFiles, JOB_FILES, PipelineImages, readFiles, sparkPackages, StreamingJob } from "./components/pipeline";
import { GkeSettings, KubeconfigSettings, loadConfig } from "./config";

const config = loadConfig();
const services = config.services;
const pipelineSettings = config.pipeline;

/** APIs the GKE stacks call; enabled before anything that needs them. Backup for GKE only where deletionProtection is on. */
const REQUIRED_APIS = [...PLATFORM_APIS, ...(config.deletionProtection ? [GKE_BACKUP_API] : [])];

function gkeCluster(settings: GkeSettings) {
    // With projectSetup bootstrap, bootstrap/ enabled the APIs and made the node service account and repositories.
    const bootstrapped = settings.projectSetup === "bootstrap";
    const apis = bootstrapped ? [] : [new ProjectApis("apis", { project: settings.project, services: REQUIRED_APIS })];
    const network = new Network(
        "platform",
        {
            project: settings.project,
            region: settings.region,
            subnetCidr: settings.network.subnetCidr,
            podsCidr: settings.network.podsCidr,
            servicesCidr: settings.network.servicesCidr,
            flowLogSampling: settings.flowLogSampling,
        },
        { dependsOn: apis },
    );
    const location = settings.regional ? settings.region : settings.zone;
    // A stack that protects its data encrypts its Secrets in etcd with its own Cloud KMS key; with projectSetup
    // bootstrap, bootstrap/ made the ring, the key and the GKE service agent's grant, and the cluster names the key.
    const secretsKey =
        config.deletionProtection && !bootstrapped
            ? new SecretsKey("gke-secrets", { project: settings.project, region: settings.region }, { dependsOn: apis })
            : undefined;
    const secretsEncryptionKey = !config.deletionProtection
        ? undefined
        : bootstrapped
          ? secretsKeyName(settings.project, settings.region, secretsKeyRingId("gke-secrets", pulumi.getStack()))
          : secretsKey?.keyName;
    // Where every Bitnami image comes from (config/services.ts ImageSource), as the image name the nodes pull.
    const stack = pulumi.getStack();
    const source = services.imageSource;
    const bitnamiRegistry =
        source.kind === "stackRepository"
            ? artifactRegistryAddress(settings.region, settings.project, bitnamiRepositoryId(stack))
            : source.kind === "dockerHubMirror"
              ? artifactRegistryAddress(settings.region, settings.project, dockerRepositoryId("dockerhub", stack))
              : source.registry;
    // The project's one Binary Authorization policy: what this stack pulls, by the addresses its components use.
    const binaryAuthorization =
        settings.binaryAuthorization === "enforce"
            ? new BinaryAuthorizationPolicy(
                  "binary-authorization",
                  {
                      project: settings.project,
                      admit: [
                          `${bitnamiRegistry}/bitnamilegacy/*`,
                          ...(pipelineSettings.buildImages
                              ? [`${artifactRegistryAddress(settings.region, settings.project, dockerRepositoryId("pipeline", stack))}/*`]
                              : []),
                      ],
                  },
                  { dependsOn: apis },
              )
            : undefined;
    const gke = new GkeCluster(
        "gke",
        {
            project: settings.project,
            location,
            network: network.network.id,
            subnetwork: network.subnetwork.id,
            podsRangeName: network.podsRangeName,
            servicesRangeName: network.servicesRangeName,
            masterCidr: settings.network.masterCidr,
            authorizedNetworks: [...settings.authorizedNetworks],
            releaseChannel: settings.releaseChannel,
            deletionProtection: config.deletionProtection,
            nodePool: {
                machineType: settings.nodePool.machine.name,
                minCount: settings.nodePool.minCount,
                maxCount: settings.nodePool.maxCount,
                diskSizeGb: settings.nodePool.diskSizeGb,
                diskType: settings.nodePool.diskType,
                spot: settings.nodePool.spot,
            },
            spotPool: settings.spotPool && {
                machineType: settings.spotPool.machine.name,
                minCount: settings.spotPool.minCount,
                maxCount: settings.spotPool.maxCount,
                diskSizeGb: settings.spotPool.diskSizeGb,
                diskType: settings.spotPool.diskType,
            },
            paused: settings.paused,
            nodeServiceAccountEmail: bootstrapped
                ? `${nodeServiceAccountId("gke", pulumi.getStack())}@${settings.project}.iam.gserviceaccount.com`
                : undefined,
            maintenanceWindow: settings.maintenanceWindow,
            maintenanceExclusions: settings.maintenanceExclusions,
            secretsEncryptionKey,
            enforceBinaryAuthorization: binaryAuthorization !== undefined,
            backupAgent: config.deletionProtection,
        },
        // Images are admitted before the cluster enforces the policy.
        { dependsOn: [...apis, network, ...(binaryAuthorization ? [binaryAuthorization] : [])] },
    );
    // A stack that protects its data also backs up the data namespaces, volumes and Secrets included, with Backup for GKE,
    // encrypted with the Secrets key. With projectSetup bootstrap, bootstrap/ enabled the API, granted the Backup for GKE
    // agent on its key and the deployer gkebackup.backupAdmin: the plan only names the key.
    if (config.deletionProtection) {
        new GkeBackup(
            "gke-backup",
            {
                project: settings.project,
                region: settings.region,
                cluster: gke.cluster.id,
                namespaces: GKE_BACKUP_NAMESPACES,
                schedule: config.gkeBackup.schedule,
                retainDays: config.gkeBackup.retainDays,
                encryptionKey: secretsEncryptionKey,
                encryptionKeyGranted: bootstrapped,
            },
            { dependsOn: apis },
        );
    }
    // Made whatever the stack pulls from today, so that it can be filled before the stack pulls from it. It waits
    // for the Artifact Registry API only: what `pulumi up --target` must name with it (scripts/registry/stackRepository.ts).
    // Protected where the stack protects its data, as bootstrap/ protects its copy: once docker.io/bitnamilegacy is
    // gone, the images in it are the only ones.
    const bitnamiImages = new BitnamiImages(
        {
            project: settings.project,
            region: settings.region,
            existing: bootstrapped,
            pulled: source.kind === "stackRepository" ? lockedImages() : undefined,
        },
        {
            dependsOn: apis.map((enabled) => enabled.services[REQUIRED_APIS.indexOf("artifactregistry.googleapis.com")]),
            protect: config.deletionProtection,
        },
    );
    const mirror =
        source.kind === "dockerHubMirror"
            ? new DockerHubMirror("dockerhub", { project: settings.project, region: settings.region, existing: bootstrapped }, { dependsOn: apis })
            : undefined;
    // The repository's own output where it is made here, so that everything pulling from it waits for it.
    const imageRegistry = source.kind === "stackRepository" ? bitnamiImages.registry : (mirror?.registry ?? pulumi.output(bitnamiRegistry));
    const images = pipelineSettings.buildImages
        ? new PipelineImages(
              "pipeline",
              {
                  project: settings.project,
                  region: settings.region,
                  airflowBaseImage: imageRegistry.apply((registry) => chartImage("airflow", registry)),
                  sparkBaseImage: imageRegistry.apply((registry) => chartImage("spark", registry)),
                  existingRepository: bootstrapped,
              },
              { dependsOn: apis },
          )
        : undefined;
    const uiAddresses =
        services.uiExposure.type === "LoadBalancer"
            ? new UiAddresses("ui", { project: settings.project, region: settings.region, uis: ["airflow", "spark"] }, { dependsOn: apis })
            : undefined;
    return {
        provider: gke.provider,
        imageRegistry,
        images,
        uiAddresses: uiAddresses?.addresses,
        outputs: {
            clusterName: gke.cluster.name,
            clusterLocation: gke.cluster.location,
            networkName: network.network.name,
            nodeServiceAccount: gke.nodeServiceAccountEmail,
            kubeconfig: gke.kubeconfig,
            getCredentialsCommand: pulumi.interpolate`gcloud container clusters get-credentials ${gke.cluster.name} --location ${location} --project ${settings.project} --dns-endpoint`,
        },
    };
}

function existingCluster(settings: KubeconfigSettings) {
    const cluster = new ExistingCluster("local", { context: settings.context });
    return {
        provider: cluster.provider,
        imageRegistry: pulumi.output(services.imageSource.kind === "registry" ? services.imageSource.registry : "docker.io"),
        images: undefined,
        uiAddresses: undefined,
        outputs: undefined,
    };
}

// The one place that decides where the platform runs; everything below is the same everywhere.
const target = config.cluster.kind === "gke" ? gkeCluster(config.cluster) : existingCluster(config.cluster);
const onCluster: pulumi.ComponentResourceOptions = { providers: { kubernetes: target.provider } };
/** Kafka and PostgreSQL hold the data: under deletion protection neither Pulumi nor Helm may delete them. */
const dataBearing: pulumi.ComponentResourceOptions = { ...onCluster, protect: config.deletionProtection };
/** Which node pools the pods are placed on: state on the on-demand pool, stateless compute preferring Spot. */
const pools: PoolLayout = config.cluster.kind === "gke" ? { managedPools: true, spotPool: config.cluster.spotPool !== undefined } : NO_POOLS;
const dataLifecycle = { retainVolumes: config.deletionProtection, zoneSpread: config.zoneSpread, pools };
/** How a UI is exposed; a LoadBalancer UI listens on the address reserved for it. */
const uiExposure = (ui: "airflow" | "spark") => ({ ...services.uiExposure, address: target.uiAddresses?.[ui] });

const postgresql = new Postgresql(
    "postgresql",
    {
        namespace: "postgresql",
        cpu: services.postgresql.size.cpu,
        memory: services.postgresql.size.memory,
        storage: services.postgresql.storage,
        databases: ["airflow", "pipeline"],
        readReplicas: services.postgresql.readReplicas,
        imageRegistry: target.imageRegistry,
        ...dataLifecycle,
    },
    dataBearing,
);

// Logical backups of every application database: to a Cloud Storage bucket on GKE, to a volume elsewhere.
function backupTarget(): BackupTarget {
    const backups = config.backups;
    if (config.cluster.kind !== "gke") {
        return { kind: "volume", size: backups.volumeSize, retain: config.deletionProtection };
    }
    const { project, region, projectSetup } = config.cluster;
    if (projectSetup === "bootstrap") {
        // CI's deployers hold no IAM or Storage admin role: bootstrap/ makes the bucket, the account and the grants.
        const serviceAccountEmail = backupServiceAccountEmail(project, pulumi.getStack());
        return { kind: "gcs", bucket: backupBucketName(project, pulumi.getStack()), serviceAccountEmail, scratchSize: backups.volumeSize };
    }
    const bucket = new BackupBucket("postgresql-backups", {
        project,
        region,
        retentionDays: backups.retentionDays,
        noncurrentDays: backups.noncurrentDays,
        kubernetesServiceAccount: { namespace: "postgresql", name: BACKUP_SERVICE_ACCOUNT },
        forceDestroy: !config.deletionProtection,
        protect: config.deletionProtection,
        // The cluster's creation makes the workload pool the Workload Identity grant names; the provider follows it.
        workloadPoolReady: [target.provider],
    });
    return { kind: "gcs", bucket: bucket.name, serviceAccountEmail: bucket.serviceAccountEmail, scratchSize: backups.volumeSize };
}
const postgresqlBackup = new PostgresqlBackup(
    "postgresql-backup",
    {
        namespace: postgresql.namespace.metadata.name,
        host: postgresql.host,
        port: postgresql.port,
        databases: postgresql.databases,
        adminPassword: postgresql.adminPassword,
        imageRegistry: target.imageRegistry,
        schedule: config.backups.schedule,
        retentionDays: config.backups.retentionDays,
        target: backupTarget(),
        pools,
    },
    // Not protected as a whole: only its volume holds data (kept by retainOnDelete), and the CronJob must stay changeable.
    { ...onCluster, dependsOn: [postgresql.schema] },
);

const kafka = new Kafka(
    "kafka",
    {
        namespace: "kafka",
        replicas: services.kafka.replicas,
        cpu: services.kafka.size.cpu,
        memory: services.kafka.size.memory,
        storage: services.kafka.storage,
        topic: services.kafka.topic,
        cas: services.kafka.cas,
        users: { producer: "producer", consumer: "consumer", admin: "topic-admin" },
        consumerGroupPrefix: "crypto-ticks-stream",
        imageRegistry: target.imageRegistry,
        ...dataLifecycle,
    },
    dataBearing,
);

// Logs that outlive pods: Airflow task logs and Spark event logs in a Cloud Storage bucket on GKE, on volumes elsewhere.
function logTargets(): {
    bucket?: pulumi.Output<string>;
    airflow: AirflowTaskLogs;
    spark: EventLogTarget;
    driverServiceAccount?: pulumi.Input<string>;
} {
    const logs = config.logs;
    if (config.cluster.kind !== "gke") {
        const volume = { kind: "volume" as const, size: logs.volumeSize, retain: config.deletionProtection };
        return { airflow: volume, spark: volume };
    }
    const { project, region, projectSetup } = config.cluster;
    let bucket: pulumi.Output<string>;
    let email: (writer: LogWriter) => pulumi.Input<string>;
    if (projectSetup === "bootstrap") {
        // As with the backup bucket: bootstrap/ makes the bucket, its spark-events/ marker, the accounts and the grants.
        bucket = pulumi.output(logBucketName(project, pulumi.getStack()));
        email = (writer) => logServiceAccountEmail(writer, project, pulumi.getStack());
    } else {
        const logBucket = new LogBucket("logs", {
            project,
            region,
            retentionDays: logs.retentionDays,
            kubernetesServiceAccounts: {
                airflow: { namespace: "airflow", name: AIRFLOW_SERVICE_ACCOUNT },
                "spark-events": { namespace: "spark", name: DRIVER_SERVICE_ACCOUNT },
                "spark-history": { namespace: "spark", name: SPARK_HISTORY_SERVICE_ACCOUNT },
            },
            forceDestroy: !config.deletionProtection,
            protect: config.deletionProtection,
            workloadPoolReady: [target.provider],
        });
        bucket = logBucket.name;
        email = (writer) => logBucket.serviceAccountEmails[writer];
    }
    return {
        bucket,
        airflow: { kind: "gcs", folder: pulumi.interpolate`gs://${bucket}/${LOG_PREFIXES.airflow}`, serviceAccountEmail: email("airflow") },
        spark: {
            kind: "gcs",
            dir: pulumi.interpolate`gs://${bucket}/${LOG_PREFIXES.sparkEvents}`,
            historyServiceAccountEmail: email("spark-history"),
        },
        driverServiceAccount: email("spark-events"),
    };
}
const logTarget = logTargets();

const spark = new Spark(
    "spark",
    {
        namespace: "spark",
        workers: services.spark.workers,
        maxWorkers: services.spark.maxWorkers,
        workerCores: services.spark.workerCores,
        workerMemoryGiB: services.spark.workerMemoryGiB,
        uiExposure: uiExposure("spark"),
        imageRegistry: target.imageRegistry,
        pools,
    },
    onCluster,
);

// The UIs of finished and restarted drivers, from their event logs.
const sparkHistory = new SparkHistory(
    "spark-history",
    {
        namespace: spark.namespace.metadata.name,
        image: target.imageRegistry.apply((registry) => chartImage("spark", registry)),
        target: logTarget.spark,
        retentionDays: config.logs.retentionDays,
        driverPodLabels: { app: "crypto-ticks-stream" },
        pools,
    },
    onCluster,
);

const airflowDatabase = postgresql.credentials.airflow;
const airflow = new Airflow(
    "airflow",
    {
        namespace: "airflow",
        executor: services.airflow.executor,
        replicas: services.airflow.replicas,
        database: {
            host: postgresql.host,
            port: postgresql.port,
            database: airflowDatabase.database,
            username: airflowDatabase.username,
            password: airflowDatabase.password,
            caCertificate: postgresql.caCertificate,
        },
        uiExposure: uiExposure("airflow"),
        imageRegistry: target.imageRegistry,
        ...dataLifecycle,
        dags: {
            files: dagFiles(),
            environment: {
                ...kafka.producer.environment,
                CRYPTO_SOURCE: pipelineSettings.source,
                CRYPTO_SYMBOLS: pipelineSettings.symbols.join(","),
                CRYPTO_VS_CURRENCY: pipelineSettings.vsCurrency,
                CRYPTO_POLL_SCHEDULE: pipelineSettings.pollSchedule,
                ...(pipelineSettings.apiUrl ? { CRYPTO_API_URL: pipelineSettings.apiUrl } : {}),
            },
            secretEnvironment: kafka.producer.secretEnvironment,
            // Without a built image the pods install the DAG's dependencies when they start, and the Cloud
            // Storage log handler's provider where task logs go there.
            requirements: target.images ? undefined : airflowRequirements(logTarget.airflow.kind === "gcs"),
        },
        image: target.images?.airflow,
        taskLogs: logTarget.airflow,
        // Airflow migrates its database on start: PostgreSQL must be ready first.
    },
    { ...onCluster, dependsOn: [postgresql.schema] },
);

const pipelineDatabase = postgresql.clientEnvironment("pipeline");
// The CA the sink verifies PostgreSQL's certificate against (POSTGRES_SSLROOTCERT), in the driver's namespace.
const pipelineDatabaseCa = postgresql.caConfigMap("spark-postgresql-ca", spark.namespace.metadata.name);
// On a regional cluster the checkpoint must outlive a zone: a zonal PD would keep a driver rescheduled to
// another zone Pending. A regional PD is replicated to two zones of the region (GKE "Provisioning regional
// persistent disks"). Switching an existing claim to this class replaces the claim: the job then restarts
// from STARTING_OFFSETS, and the idempotent upsert sink absorbs the replayed ticks.
const checkpointStorageClass =
    config.cluster.kind === "gke" && config.cluster.regional
        ? new RegionalDiskStorageClass("checkpoint-regional-pd", { retain: config.deletionProtection }, onCluster)
        : undefined;
const streamingJob = new StreamingJob(
    "crypto-ticks-stream",
    {
        namespace: spark.namespace.metadata.name,
        image: target.images ? target.images.sparkJob.reference : target.imageRegistry.apply((registry) => chartImage("spark", registry)),
        code: target.images
            ? undefined
            : {
                  files: { ...readFiles("spark", JOB_FILES), ...readFiles(".", ["requirements-spark.txt"]) },
                  packages: sparkPackages(),
              },
        environment: {
            ...kafka.consumer.environment,
            ...pipelineDatabase.environment,
            SPARK_MASTER_URL: spark.masterUrl,
            TRIGGER_INTERVAL: pipelineSettings.triggerInterval,
            STARTING_OFFSETS: "earliest",
            TICKS_TABLE: "crypto_ticks",
        },
        secretEnvironment: {
            ...kafka.consumer.secretEnvironment,
            ...pipelineDatabase.secretEnvironment,
            SPARK_AUTHENTICATE_SECRET: spark.rpcSecret,
        },
        checkpointStorage: pipelineSettings.checkpointStorage,
        checkpointStorageClass: checkpointStorageClass?.name,
        cpu: pipelineSettings.driverSize.cpu,
        memory: pipelineSettings.driverSize.memory,
        executor: { cores: spark.memory.executor.cores, memoryMiB: spark.memory.executor.heapMiB },
        blockManagerPort: spark.blockManagerPort,
        podLabels: spark.clientPodLabels,
        pools,
        configFiles: [{ name: "postgresql-ca", configMap: pipelineDatabaseCa.metadata.name, mountPath: POSTGRESQL_CA_DIR }],
        eventLog: { ...sparkHistory.driverEventLog, gcpServiceAccount: logTarget.driverServiceAccount },
        // Started once its topic, its table's database and the master exist, instead of crash-looping until then.
    },
    { ...onCluster, dependsOn: [kafka.release, postgresql.schema, spark.release] },
);

// Every exporter (each chart's and the streaming job's), scraped on GKE stacks by Managed Service for Prometheus'
// managed collection: a PodMonitoring each and the collectors' ingress (flows below). The local stack has no
// collectors and gets neither: its exporters serve the same ports, reachable by kubectl port-forward.
const scrapeTargets = [kafka.metrics, postgresql.metrics, spark.metrics, airflow.metrics, streamingJob.metrics];
const managedPrometheus = config.cluster.kind === "gke";
if (managedPrometheus) {
    new PodMonitorings("scrapes", { targets: scrapeTargets, intervalSeconds: config.monitoring.scrapeIntervalSeconds }, onCluster);
}

// Every namespace denies ingress but for these flows (and what each chart admits inside its release).
const uiClients = services.uiExposure.type === "LoadBalancer" ? { cidrs: services.uiExposure.sourceRanges } : undefined;
new NetworkIsolation(
    "network",
    {
        namespaces: [kafka, postgresql, spark, airflow].map((service) => service.namespace.metadata.name),
        flows: [
            { name: "airflow-internal", from: airflow.pods, to: airflow.pods, why: "Airflow's components, Redis included, talk to each other" },
            {
                name: "airflow-tasks",
                from: airflow.taskRunnerPods,
                to: kafka.brokers,
                ports: [kafka.clientPort],
                why: "the DAG's task produces ticks",
            },
            { name: "driver", from: streamingJob.driverPods, to: kafka.brokers, ports: [kafka.clientPort], why: "the driver reads offsets" },
            { name: "executors", from: spark.workerPods, to: kafka.brokers, ports: [kafka.clientPort], why: "executors read the topic" },
            { name: "airflow", from: airflow.pods, to: postgresql.primaryPods, ports: [postgresql.port], why: "Airflow's metadata database" },
            {
                name: "schema-job",
                from: postgresql.schemaPods,
                to: postgresql.primaryPods,
                ports: [postgresql.port],
                why: "the schema Job creates databases and roles",
            },
            {
                name: "backup",
                from: postgresqlBackup.pods,
                to: postgresql.primaryPods,
                ports: [postgresql.port],
                why: "the backup CronJob dumps every database",
            },
            // Only the driver: each batch is collected to it and written there (pipeline/spark/stream_ticks.py), never by executors.
            { name: "sink-driver", from: streamingJob.driverPods, to: postgresql.primaryPods, ports: [postgresql.port], why: "the sink's driver" },
            {
                name: "driver-to-master",
                from: streamingJob.driverPods,
                to: spark.masterPods,
                ports: [spark.masterPort],
                why: "the driver registers with the master",
            },
            {
                name: "executors-to-driver",
                from: spark.workerPods,
                to: streamingJob.driverPods,
                ports: [...streamingJob.driverPorts],
                why: "executors connect back to the driver",
            },
            ...(managedPrometheus ? scrapeFlows(scrapeTargets) : []),
            ...(uiClients
                ? [
                      {
                          name: "airflow-ui",
                          from: uiClients,
                          to: airflow.webPods,
                          ports: [airflow.uiPort],
                          why: "the Airflow UI's LoadBalancer clients",
                      },
                      { name: "spark-ui", from: uiClients, to: spark.masterPods, ports: [spark.uiPort], why: "the Spark UI's LoadBalancer clients" },
                  ]
                : []),
        ],
    },
    onCluster,
);

// Alerts, their email channels and the dashboard, on GKE stacks only (Cloud Monitoring; the local stack has none).
const monitoring =
    config.cluster.kind === "gke" && target.outputs
        ? new PipelineMonitoring("monitoring", {
              project: config.cluster.project,
              clusterName: target.outputs.clusterName,
              namespaces: { kafka: "kafka", postgresql: "postgresql", spark: "spark", airflow: "airflow" },
              pipeline: {
                  dagId: "crypto_prices",
                  streamingJob: "crypto-ticks-stream",
                  symbols: pipelineSettings.symbols,
                  pollIntervalSeconds: config.monitoring.pollIntervalSeconds,
                  triggerIntervalSeconds: config.monitoring.triggerIntervalSeconds,
                  freshnessPolls: config.monitoring.freshnessPolls,
              },
              alertPolicies: config.monitoring.alertPolicies,
              alertEmails: config.monitoring.alertEmails,
              runbookBaseUrl: config.monitoring.runbookBaseUrl,
          })
        : undefined;

export const clusterName = target.outputs?.clusterName;
export const clusterLocation = target.outputs?.clusterLocation;
export const networkName = target.outputs?.networkName;
export const nodeServiceAccount = target.outputs?.nodeServiceAccount;
export const kubeconfig = target.outputs?.kubeconfig;
export const getCredentialsCommand = target.outputs?.getCredentialsCommand;
export const imageRegistry = target.imageRegistry;
export const airflowUi = airflow.ui;
export const airflowAdminUser = airflow.adminUser;
export const airflowAdminPassword = airflow.adminPassword;
export const sparkMasterUi = spark.ui;
export const sparkMasterUrl = spark.masterUrl;
/** The Spark History Server: finished and restarted drivers' UIs, from event logs in logBucket (GKE) or on a volume. */
export const sparkHistoryUi = {
    inClusterUrl: sparkHistory.inClusterUrl,
    portForwardCommand: sparkHistory.portForwardCommand,
    localUrl: sparkHistory.localUrl,
};
/** Airflow task logs (airflow/) and Spark event logs (spark-events/); none on a stack without Cloud Storage. */
export const logBucket = logTarget.bucket;
export const kafkaBootstrapServers = kafka.bootstrapServers;
export const kafkaTopic = kafka.topic;
export const postgresqlService = `${postgresql.host}:${postgresql.port}`;
export const streamingJobLogsCommand = pulumi.interpolate`kubectl -n ${streamingJob.deployment.metadata.namespace} logs deploy/${streamingJob.deployment.metadata.name} -f`;
export const pipelineImages = target.images && { airflow: target.images.airflow.reference, sparkJob: target.images.sparkJob.reference };
/** GKE stacks: the alert policies and where they notify ("none configured" when alertEmails is empty). */
export const alerting = monitoring?.summary;
/** GKE stacks: the pipeline-health dashboard in the Cloud Console. */
export const monitoringDashboardUrl = monitoring?.dashboardUrl;
