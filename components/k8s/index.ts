export * from "./existingCluster";
export * from "./kubernetesObjects";
