import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ExistingCluster } from "./components/existingCluster";
import { GkeCluster } from "./components/gkeCluster";
import { Network } from "./components/network";
import { ProjectApis } from "./components/projectApis";
import { GkeSettings, loadConfig } from "./config";

const config = loadConfig();

/** APIs the GKE stacks call; enabled before anything that needs them. */
const REQUIRED_APIS = [
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "artifactregistry.googleapis.com",
];

function provisionGke(settings: GkeSettings) {
    const apis = new ProjectApis("apis", { project: settings.project, services: REQUIRED_APIS });
    const network = new Network("platform", {
        project: settings.project,
        region: settings.region,
        subnetCidr: settings.network.subnetCidr,
        podsCidr: settings.network.podsCidr,
        servicesCidr: settings.network.servicesCidr,
    }, { dependsOn: [apis] });
    const gke = new GkeCluster("gke", {
        project: settings.project,
        location: settings.regional ? settings.region : settings.zone,
        network: network.network.id,
        subnetwork: network.subnetwork.id,
        podsRangeName: network.podsRangeName,
        servicesRangeName: network.servicesRangeName,
        masterCidr: settings.network.masterCidr,
        authorizedNetworks: [...settings.authorizedNetworks],
        releaseChannel: settings.releaseChannel,
        deletionProtection: settings.deletionProtection,
        nodePool: {
            machineType: settings.nodePool.machine.name,
            minCount: settings.nodePool.minCount,
            maxCount: settings.nodePool.maxCount,
            diskSizeGb: settings.nodePool.diskSizeGb,
            diskType: settings.nodePool.diskType,
            spot: settings.nodePool.spot,
        },
    }, { dependsOn: [apis, network] });
    const location = settings.regional ? settings.region : settings.zone;
    const credentialsCommand = pulumi.interpolate`gcloud container clusters get-credentials ${gke.cluster.name} --location ${location} --project ${settings.project} --dns-endpoint`;
    return { network, gke, credentialsCommand };
}

const gkeStack = config.cluster.kind === "gke" ? provisionGke(config.cluster) : undefined;
const provider: k8s.Provider = gkeStack
    ? gkeStack.gke.provider
    : new ExistingCluster("local", { context: config.cluster.kind === "kubeconfig" ? config.cluster.context : undefined }).provider;

export const clusterName = gkeStack?.gke.cluster.name;
export const clusterLocation = gkeStack?.gke.cluster.location;
export const networkName = gkeStack?.network.network.name;
export const nodeServiceAccount = gkeStack?.gke.nodeServiceAccount.email;
export const kubeconfig = gkeStack?.gke.kubeconfig;
export const getCredentialsCommand = gkeStack?.credentialsCommand;
void provider;
