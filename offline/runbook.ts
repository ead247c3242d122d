import * as fs from "fs";
import * as path from "path";
import { PROJECT_ROOT } from "./harness";

/** The anchors GitHub gives docs/runbook.md's headings: lowercase, punctuation dropped, spaces to hyphens, repeats numbered. */
export function runbookAnchors(): Set<string> {
    const text = fs.readFileSync(path.join(PROJECT_ROOT, "docs", "runbook.md"), "utf8").replace(/```[\s\S]*?```/g, "");
    const seen = new Map<string, number>();
    const anchors = new Set<string>();
    for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
        const slug = heading
            .trim()
            .toLowerCase()
            .replace(/[^\p{L}\p{N}\s_-]/gu, "")
            .replace(/\s/g, "-");
        const count = seen.get(slug) ?? 0;
        anchors.add(count === 0 ? slug : `${slug}-${count}`);
        seen.set(slug, count + 1);
    }
    return anchors;
}
