/**
 * The container provider's choices that need no engine: which image a scenario runs, what target.image
 * accepts, and that every report format names the image.
 */
import { describe, expect, it } from "vitest";
import { containerImage } from "../../src/clone/container.ts";
import { renderJunit } from "../../src/report/junit.ts";
import { renderMarkdown } from "../../src/report/markdown.ts";
import { Target } from "../../src/scenario/schema.ts";
import { passingRun } from "./report-fixtures.ts";

describe("containerImage", () => {
  it.each([
    [{}, "postgres:17"],
    [{ version: 15 }, "postgres:15"],
    [{ image: "localhost/rehearse-postgres:15" }, "localhost/rehearse-postgres:15"],
    // An explicit image wins over the version: the image decides which server runs.
    [{ image: "registry.example.com/team/pg:16.4", version: 15 }, "registry.example.com/team/pg:16.4"],
  ])("%o runs %s", (options, image) => {
    expect(containerImage(options)).toBe(image);
  });
});

describe("target.image", () => {
  it.each(["postgres", "postgres:16", "localhost/rehearse-postgres:15", "ghcr.io/o/pg@sha256:abc123"])(
    "accepts %s",
    (image) => {
      expect(Target.parse({ provider: "container", image })).toMatchObject({ provider: "container", image });
    },
  );

  it.each(["", "postgres 16", "-v /:/host postgres", "postgres;rm"])("rejects %j", (image) => {
    expect(Target.safeParse({ provider: "container", image }).success).toBe(false);
  });
});

describe("reports", () => {
  it("say the provider and the image", () => {
    const r = passingRun();
    r.context.provider = "container";
    r.context.clone = { method: "initdb", cache: "off", image: "localhost/rehearse-postgres:15" };
    expect(renderMarkdown(r)).toContain("Provider: container (image `localhost/rehearse-postgres:15`)");
    expect(renderJunit(r)).toContain('<property name="image" value="localhost/rehearse-postgres:15"/>');
  });
});
