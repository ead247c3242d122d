/** An IPv4 CIDR block as a half-open numeric range, so overlap checks are simple arithmetic. */
export interface Ipv4Block {
    readonly text: string;
    readonly first: number;
    readonly size: number;
    readonly prefix: number;
}

const CIDR_SHAPE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses `a.b.c.d/n`; returns a reason instead of a block when the text is not a network address. */
export function parseCidr(text: string): Ipv4Block | string {
    const match = CIDR_SHAPE.exec(text.trim());
    if (!match) {
        return "must look like a.b.c.d/n";
    }
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255)) {
        return "has an octet above 255";
    }
    if (prefix > 32) {
        return "has a prefix length above 32";
    }
    const address = octets.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    if (address % size !== 0) {
        // GCP rejects ranges whose host bits are set; say which network was probably meant.
        const network = address - (address % size);
        return `has host bits set (did you mean ${formatAddress(network)}/${prefix}?)`;
    }
    return { text: text.trim(), first: address, size, prefix };
}

export function overlaps(a: Ipv4Block, b: Ipv4Block): boolean {
    return a.first < b.first + b.size && b.first < a.first + a.size;
}

function formatAddress(address: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}
