/**
 * Finds and parses scenario.yaml, keeping every node's position so each later problem can name its line and
 * column. A folder, file or YAML syntax that is unusable stops loading here: nothing after could be located.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { pathString, type Problem, ScenarioError, type YamlPath } from "./problem.ts";

export interface Position {
  line?: number;
  column?: number;
}

export interface ScenarioYaml {
  /** The scenario folder, absolute. */
  dir: string;
  /** scenario.yaml, absolute. */
  file: string;
  /** scenario.yaml as problems name it: relative to the working directory. */
  rel: string;
  /** The document as plain data, not yet validated. */
  raw: unknown;
  /** Walks down as far as the path exists; a missing key is reported at its parent. */
  locate(p: YamlPath): Position;
  /** For an unknown key, points at the key itself rather than its parent map. */
  locateKey(p: YamlPath, key: string): Position;
  /** The line inline SQL at `p` starts on: a block scalar's text starts on the line after its indicator. */
  textLine(p: YamlPath): number;
}

/** Loads `<dir>/scenario.yaml` (or a path to the yaml itself). Throws ScenarioError when it cannot be parsed. */
export async function readScenarioYaml(dirOrFile: string): Promise<ScenarioYaml> {
  let dir = path.resolve(dirOrFile);
  let file = path.join(dir, "scenario.yaml");
  try {
    const st = await stat(dir);
    if (st.isFile()) {
      file = dir;
      dir = path.dirname(dir);
    }
  } catch {
    throw new ScenarioError([
      {
        file: dirOrFile,
        path: "",
        message: "no such scenario folder",
        fix: "pass a folder containing scenario.yaml, e.g. scenarios/ledger-attach-history",
      },
    ]);
  }
  const rel = path.relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ScenarioError([
      {
        file: rel,
        path: "",
        message: "scenario.yaml not found",
        fix: "create scenario.yaml in the scenario folder",
      },
    ]);
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = doc.errors.map((e) => {
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    return {
      file: rel,
      line: pos?.line,
      column: pos?.col,
      path: "",
      message: `YAML: ${e.message.split("\n")[0]}`,
      fix: "fix the YAML syntax (indentation, quoting, a missing colon)",
    };
  });
  if (problems.length > 0) throw new ScenarioError(problems);
  if (doc.contents === null)
    // Else zod lists every required field as missing, which hides that the file itself is empty.
    throw new ScenarioError([
      {
        file: rel,
        path: "",
        message: "scenario.yaml is empty",
        fix: "start from the README's scenario format or copy scenarios/ledger-attach-history/scenario.yaml",
      },
    ]);
  return { dir, file, rel, raw: doc.toJS(), ...positions(doc, lineCounter) };
}

function positions(
  doc: Document,
  lineCounter: LineCounter,
): Pick<ScenarioYaml, "locate" | "locateKey" | "textLine"> {
  const locate = (p: YamlPath): Position => {
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true) as Node | undefined;
      if (node && typeof node === "object" && "range" in node && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
  const locateKey = (p: YamlPath, key: string): Position => {
    const parent = doc.getIn(p, true);
    if (isMap(parent)) {
      for (const pair of parent.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
          const pos = lineCounter.linePos(pair.key.range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
    }
    return locate(p);
  };
  const textLine = (p: YamlPath): number => {
    const { line } = locate(p);
    const node = doc.getIn(p, true);
    const block = isScalar(node) && (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED");
    return (line ?? 1) + (block ? 1 : 0);
  };
  return { locate, locateKey, textLine };
}

/** The start of a problem at `p` in scenario.yaml: its file, line, column and dotted path. */
export function where(yaml: ScenarioYaml, p: YamlPath): Pick<Problem, "file" | "line" | "column" | "path"> {
  return { file: yaml.rel, ...yaml.locate(p), path: pathString(p) };
}
