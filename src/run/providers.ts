/** The clone providers a run can choose by name, built from the flags that configure them. */
import { AuroraProvider } from "../clone/aurora.ts";
import { ContainerProvider } from "../clone/container.ts";
import { EmbeddedProvider } from "../clone/embedded.ts";
import type { CloneProvider } from "../clone/provider.ts";
import { SystemProvider } from "../clone/system.ts";
import { UrlProvider } from "../clone/url.ts";
import type { RehearsalOptions } from "./options.ts";

/** The database every provider creates in its clone (and the cache key includes). */
export const CLONE_DATABASE = "rehearsal";

/** The providers a run can use, by target.provider name. */
export function defaultProviders(opts: Pick<RehearsalOptions, "targetUrl" | "allowUnmarked" | "aurora">) {
  return {
    embedded: new EmbeddedProvider(),
    system: new SystemProvider(),
    url: new UrlProvider({ url: opts.targetUrl, allowUnmarked: opts.allowUnmarked }),
    aurora: new AuroraProvider({ settings: opts.aurora ?? {} }),
    container: new ContainerProvider(),
  } satisfies Record<string, CloneProvider>;
}
