#!/usr/bin/env node
// Validates Kubernetes objects offline against the schemas of npm's kubernetes-models (the
// OpenAPI schemas of Kubernetes itself) and @kubernetes-models/prometheus-operator (the
// ServiceMonitor CRD).
//
//   node tests/charts/validate_k8s.js NODE_MODULES_DIR < objects.json
//
// stdin: a JSON array of {"where": "<scenario>: <template>", "object": {...}}. Prints one line
// per invalid object and exits 1 if any is invalid or of a kind it has no schema for (an
// unknown kind is an error, never skipped); exits 0 and prints a count otherwise.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const modules = process.argv[2];
if (!modules) {
  console.error("usage: validate_k8s.js NODE_MODULES_DIR < objects.json");
  process.exit(2);
}
const req = createRequire(path.join(path.resolve(modules), "package.json"));

// apiVersion -> the package and folder whose <Kind> module models it.
function modulePath(apiVersion, kind) {
  if (!/^[A-Za-z0-9]+$/.test(kind || "")) return null;
  if (apiVersion === "monitoring.coreos.com/v1") {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  }
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion || "")) return null;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

const input = JSON.parse(fs.readFileSync(0, "utf8"));
let bad = 0;
const kinds = new Set();
for (const { where, object } of input) {
  const id = `${where}: ${object.kind} ${object.apiVersion} ${(object.metadata || {}).name}`;
  const mod = modulePath(object.apiVersion, object.kind);
  let Model;
  try {
    if (!mod) throw new Error("not a Kubernetes apiVersion/kind");
    Model = req(mod)[object.kind];
    if (typeof Model !== "function") throw new Error(`${mod} exports no ${object.kind}`);
  } catch (e) {
    console.log(`INVALID ${id}: no schema for this kind (${e.message.split("\n")[0]})`);
    bad++;
    continue;
  }
  try {
    new Model(object).validate();
    kinds.add(`${object.apiVersion}/${object.kind}`);
  } catch (e) {
    console.log(`INVALID ${id}: ${e.message}`);
    bad++;
  }
}
if (bad) {
  console.log(`${bad} of ${input.length} objects invalid`);
  process.exit(1);
}
console.log(`${input.length} objects valid (${[...kinds].sort().join(", ")})`);
