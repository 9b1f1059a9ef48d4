// An MQTT.js client for tests (npmkit.StartMQTT). It connects to argv[2] (a
// wss:// or mqtts:// URL) with the options in the JSON of argv[3]:
//   {clientId, protocolVersion, ca, cert, key (file paths; cert/key
//    optional), subscribe (filter, optional), publish ({topic, payload},
//    optional, sent after the SUBACK)}
// and prints one JSON line per thing it sees: connect, suback, message,
// disconnect (a server DISCONNECT, MQTT 5), error, close. It exits after
// the first close: reconnecting is off.
const fs = require("fs");
const mqtt = require("mqtt");

const url = process.argv[2];
const opts = JSON.parse(process.argv[3]);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const client = mqtt.connect(url, {
  clientId: opts.clientId,
  protocolVersion: opts.protocolVersion || 4,
  clean: true,
  reconnectPeriod: 0,
  connectTimeout: 30000,
  keepalive: 60,
  ca: fs.readFileSync(opts.ca),
  cert: opts.cert ? fs.readFileSync(opts.cert) : undefined,
  key: opts.key ? fs.readFileSync(opts.key) : undefined,
  rejectUnauthorized: true,
});

client.on("connect", () => {
  out({ event: "connect" });
  if (!opts.subscribe) return;
  client.subscribe(opts.subscribe, { qos: 1 }, (err, granted) => {
    if (err) return out({ event: "error", message: String(err.message || err) });
    out({ event: "suback", qos: granted.map((g) => g.qos) });
    if (opts.publish) client.publish(opts.publish.topic, opts.publish.payload, { qos: 1 });
  });
});
client.on("message", (topic, payload) => out({ event: "message", topic, payload: payload.toString() }));
client.on("disconnect", (pk) => out({ event: "disconnect", reasonCode: pk.reasonCode }));
client.on("error", (err) => out({ event: "error", message: String(err.message || err), code: err.code }));
client.on("close", () => {
  out({ event: "close" });
  client.end(true, () => process.exit(0));
});
