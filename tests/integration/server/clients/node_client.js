// A client in another language, built from the contracts in protos/ at run time
// (@grpc/grpc-js + @grpc/proto-loader): log in, then Get an application and print it as JSON.
// usage: node node_client.js ADDRESS CA_FILE PROTOS_DIR GOOGLEAPIS_DIR PASSWORD APP
const fs = require("fs");
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");

const [address, caFile, protos, googleapis, password, app] = process.argv.slice(2);
const definition = loader.loadSync(["ferry/v1/application.proto", "ferry/v1/session.proto"], {
  includeDirs: [protos, googleapis],
  keepCase: false,
  longs: String,
  defaults: false,
});
const ferry = grpc.loadPackageDefinition(definition).ferry.v1;
const credentials = grpc.credentials.createSsl(fs.readFileSync(caFile));
const options = { "grpc.ssl_target_name_override": "localhost" };
const sessions = new ferry.SessionService(address, credentials, options);
const apps = new ferry.ApplicationService(address, credentials, options);

sessions.Create({ username: "admin", password }, (err, reply) => {
  if (err) { console.error("login failed:", err.code, err.details); process.exit(1); }
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${reply.token}`);
  apps.Get({ name: app }, metadata, (err2, application) => {
    if (err2) { console.error("get failed:", err2.code, err2.details); process.exit(2); }
    console.log(JSON.stringify(application));
    process.exit(0);
  });
});
