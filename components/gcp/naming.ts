/**
 * A Google Cloud resource id from a wanted name that includes the stack, so dev and prod can share a
 * project: lowercase letters, digits and hyphens as service account and Artifact Registry ids
 * require, cut to the id's maximum length.
 */
export function resourceId(wanted: string, maxLength: number): string {
    return wanted
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, "-")
        .slice(0, maxLength)
        .replace(/-+$/, "");
}
