export * from "./existingCluster";
export * from "./kubernetesObjects";
export * from "./networkIsolation";
export * from "./placement";
export * from "./monitoring";
