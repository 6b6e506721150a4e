import { GenericContainer, getContainerRuntimeClient } from "testcontainers";
const t0 = performance.now();
try { const c = await getContainerRuntimeClient(); console.log("client ok", Math.round(performance.now()-t0), JSON.stringify(c.info).slice(0,300)); } catch (e) { console.log("client err", Math.round(performance.now()-t0), (e as Error).message); process.exit(0); }
for (const img of [process.argv[2]!]) {
  const t = performance.now();
  try { await new GenericContainer(img).start(); console.log("started?!"); }
  catch (e) { console.log(img, Math.round(performance.now() - t), "ms:", (e as Error).constructor.name, (e as Error).message); }
}
