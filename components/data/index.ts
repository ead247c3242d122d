export * from "./airflow";
export * from "./bitnamiRelease";
export * from "./charts";
export * from "./kafka";
export * from "./postgresql";
export * from "./postgresqlBackup";
export * from "./spark";
export * from "./uiEndpoint";
