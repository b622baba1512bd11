using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.DevIdentity;
using TeslaSimulator.Fleet;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;
using TeslaSimulator.VirtualKeys;

var builder = WebApplication.CreateBuilder(args);
builder.AddSimulatorHosting();      // Hosting/: options, TimeProvider, Kestrel on every auth/region origin
builder.Services.AddSingleton<SimulatorState>();   // State/: seed-loaded accounts, vehicles, sites, consents
builder.AddAuthServer();            // Auth/: discovery, JWKS, authorize + consent pages, token
builder.AddFleetApi();              // Fleet/: bearer/region/scope gate, vehicles, commands, energy
builder.AddVirtualKeys();           // VirtualKeys/: sign-ins on the pairing page
builder.AddControl();               // Control/: call ledger, fault queue
builder.AddDevIdentity();           // DevIdentity/: /dev-idp, an OpenID provider for the demo's admin console

var app = builder.Build();
app.UseCallLedger();                // counts every auth/Fleet request (outermost, so faults are counted too)
app.UseFaultInjection();            // /_sim/faults: status, delay, malformed, lost responses
app.MapAuthServer();
app.MapFleetApi();
app.MapVirtualKeys();               // VirtualKeys/: the tesla.com/_ak/<domain> pairing pages
app.MapDevIdentity();               // /dev-idp/*: not Tesla, so neither counted nor faulted
app.MapControl();                   // /_sim/*, loopback only
app.Run();

namespace TeslaSimulator
{
    /// <summary>Anchor type so tests can host the simulator with WebApplicationFactory.</summary>
    public sealed class SimulatorMarker
    {
        /// <summary>
        /// The named HttpClient the simulator downloads partner public keys with. An in-process host points it at
        /// its partner app: <c>services.AddHttpClient(PartnerKeyDownloadClient).ConfigurePrimaryHttpMessageHandler(…)</c>.
        /// </summary>
        public const string PartnerKeyDownloadClient = "partner-key-download";
    }
}
