export * from "./assets";
export * from "./images";
export * from "./streamingJob";
