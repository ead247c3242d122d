export * from "./dockerHubMirror";
export * from "./dockerRepository";
export * from "./gkeCluster";
export * from "./kubeconfig";
export * from "./naming";
export * from "./network";
export * from "./projectApis";
export * from "./uiAddresses";
