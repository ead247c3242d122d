/**
 * Bitnami's resource presets (`<component>.resourcesPreset`), which a chart applies when a component
 * has no `resources`. From `templates/_resources.tpl` of the bitnami/common library chart 2.x, which
 * every pinned chart depends on (see their Chart.lock); limits are the requests plus 50 %.
 */
export const BITNAMI_RESOURCE_PRESETS: Readonly<
    Record<string, { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } }>
> = {
    nano: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "150m", memory: "192Mi" } },
    micro: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "375m", memory: "384Mi" } },
    small: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "750m", memory: "768Mi" } },
    medium: { requests: { cpu: "500m", memory: "1024Mi" }, limits: { cpu: "750m", memory: "1536Mi" } },
    large: { requests: { cpu: "1.0", memory: "2048Mi" }, limits: { cpu: "1.5", memory: "3072Mi" } },
    xlarge: { requests: { cpu: "1.5", memory: "4096Mi" }, limits: { cpu: "3.0", memory: "6144Mi" } },
    "2xlarge": { requests: { cpu: "1.5", memory: "4096Mi" }, limits: { cpu: "6.0", memory: "12288Mi" } },
};
