using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Bench;
using Broker.Data;
using Broker.Partner;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Commands;

/// <summary>
/// Signed commands through the broker's API: POST /api/v1/accounts/{id}/vehicles/{vin}/commands/set_charging_amps with a
/// tenant key, the broker (VehicleCommands → SignedChannel: handshake per car and domain, session and counter in a real
/// PostgreSQL, HMAC-personalised command, encrypted answer) → the simulator's signed_command endpoint and its car
/// (Car/VehicleCommandCar.cs: checks, applies, encrypts the answer). Both apps run in this process on in-memory HTTP
/// (as bench/FleetDay does), so the car's own cost (it too derives K per command) is in the figures.
/// <para>
/// Tesla allows 30 commands a minute per car, handshakes included, and the broker and the simulator both count them; so
/// the commands are spread over many cars (added to alice's account, each paired with the broker's partner key), each
/// car gets at most <c>perCar</c> (≤ 29) commands a round, and between rounds the shared fake clock moves 61 s. Every car's
/// first command of the run opens its session (a handshake: one more Fleet call and an upsert) and is reported apart.
/// <c>parallel</c> clients send at once; each owns a slice of the cars and sends to its cars one after another, so no
/// car has two commands in flight.
/// </para>
/// </summary>
internal sealed class EndToEnd(int cars, int perCar, int rounds, int parallel)
{
    private const string Email = "alice@example.com";
    private const string Password = "alice-demo";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public sealed record Sample(int Round, bool First, double Ms, bool Ok, string? Outcome);

    public async Task<string> RunAsync()
    {
        var lines = new List<string>();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Hosting.PointAtSources();
        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString("broker_commands");
        await Hosting.MigrateAsync(cs);
        await using var sim = new SimWorld(time);
        await using var broker = new BrokerWorld(cs, sim, time);
        sim.PartnerWeb = () => broker.Server.CreateHandler(); // Tesla downloads the public key from the broker

        // The cars: awake, plugged in, needing signed commands.
        var vins = Enumerable.Range(1, cars).Select(i => $"BENCHCMD{i:D9}").ToList();
        var control = sim.Client();
        for (var i = 0; i < vins.Count; i++)
        {
            (await control.PostAsJsonAsync($"/_sim/accounts/{Email}/vehicles", new
            {
                id = 3_900_000_000 + i, vehicleId = 4_900_000_000 + i, vin = vins[i], displayName = $"Bench {i + 1}", carType = "model3",
                exteriorColor = "MidnightSilver", state = "parked", batteryLevel = 60.0, chargeLimit = 80, odometer = 1000.0,
                latitude = 37.39, longitude = -122.03, heading = 0, pluggedIn = true, commandProtocolRequired = true,
            })).EnsureSuccessStatusCode();
        }

        // The operator's partner key, registered; a tenant with an API key; alice connects; every bench car holds the key.
        var operatorApi = broker.CreateClient();
        operatorApi.DefaultRequestHeaders.Authorization = new("Bearer", BrokerWorld.OperatorToken);
        (await operatorApi.PostAsJsonAsync("/api/v1/partner/key", new { generate = true })).EnsureSuccessStatusCode();
        var registered = await (await operatorApi.PostAsJsonAsync("/api/v1/partner/registrations", new { region = "na" })).Content.ReadFromJsonAsync<List<PartnerRegistrationResponse>>();
        if (registered?.SingleOrDefault(r => r.Region == "na")?.Status != "registered")
        {
            throw new InvalidOperationException("partner registration in na failed");
        }
        string apiKey, link;
        await using (var scope = broker.Services.CreateAsyncScope())
        {
            var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
            var tenant = await provisioning.EnsureTenantAsync("bench", "Signed commands bench", default);
            apiKey = await provisioning.AddApiKeyAsync(tenant.Id, "bench", default);
            (_, link) = await provisioning.AddConnectLinkAsync(tenant.Id, Email, default);
        }
        await ConnectFlow.RunAsync(broker.Browser(), sim.Client(), link, Email, Password, default);
        foreach (var vin in vins)
        {
            (await control.PostAsJsonAsync($"/_sim/vehicles/{vin}/virtual-key", new { domain = BrokerWorld.PartnerDomain, paired = true })).EnsureSuccessStatusCode();
        }
        Guid accountId;
        await using (var db = Context(cs))
        {
            accountId = await db.TeslaAccounts.Select(a => a.Id).SingleAsync();
            var known = await db.Vehicles.CountAsync(v => v.Vin.StartsWith("BENCHCMD"));
            if (known != cars)
            {
                throw new InvalidOperationException($"the broker knows {known} of {cars} bench cars after the connect");
            }
        }

        var clients = Enumerable.Range(0, parallel).Select(_ =>
        {
            var c = broker.CreateClient();
            c.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
            return c;
        }).ToList();

        // One warm-up command on a car outside the measured set would need a 61st car; instead JIT warms on the first round,
        // which is why rounds are reported one by one.
        var all = new List<Sample>();
        lines.Add($"End to end: broker API → SignedChannel (Postgres session and counter) → simulator's signed_command and car; {cars} cars, {perCar} commands per car per round, {parallel} clients at once");
        lines.Add("");
        lines.Add("| round | commands | ok | wall s | commands/s | p50 ms | p95 ms | p99 ms | max ms | process CPU ms per command | load average before → after |");
        lines.Add("|---|---|---|---|---|---|---|---|---|---|---|");
        for (var round = 0; round < rounds; round++)
        {
            var loadBefore = CommandsProgram.LoadAverage();
            var samples = new List<Sample>[parallel];
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, parallel).Select(w => Task.Run(async () =>
            {
                var mine = vins.Where((_, i) => i % parallel == w).ToList();
                var list = samples[w] = [];
                for (var i = 0; i < perCar; i++)
                {
                    foreach (var vin in mine)
                    {
                        var started = Stopwatch.GetTimestamp();
                        var response = await clients[w].PostAsJsonAsync($"/api/v1/accounts/{accountId}/vehicles/{vin}/commands/set_charging_amps",
                            new { charging_amps = 8 + (i % 24) });
                        var body = await response.Content.ReadAsStringAsync();
                        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                        string? outcome = null;
                        var ok = false;
                        if (response.IsSuccessStatusCode)
                        {
                            using var json = JsonDocument.Parse(body);
                            outcome = json.RootElement.GetProperty("outcome").GetString() + "/" + json.RootElement.GetProperty("channel").GetString();
                            ok = outcome == "ok/signed";
                        }
                        else
                        {
                            outcome = $"{(int)response.StatusCode} {body[..Math.Min(120, body.Length)]}";
                        }
                        list.Add(new Sample(round, round == 0 && i == 0, ms, ok, outcome));
                    }
                }
            })));
            watch.Stop();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
            var got = samples.SelectMany(s => s).ToList();
            all.AddRange(got);
            var sorted = got.Select(s => s.Ms).Order().ToList();
            var ok = got.Count(s => s.Ok);
            lines.Add(string.Create(Inv,
                $"| {round + 1}{(round == 0 ? " (handshakes, JIT)" : "")} | {got.Count:N0} | {ok:N0} | {watch.Elapsed.TotalSeconds:F1} | {ok / watch.Elapsed.TotalSeconds:F1} | " +
                $"{P(sorted, 0.5):F1} | {P(sorted, 0.95):F1} | {P(sorted, 0.99):F1} | {sorted[^1]:F1} | {cpu.TotalMilliseconds / Math.Max(1, got.Count):F2} | {loadBefore} → {CommandsProgram.LoadAverage()} |"));
            foreach (var bad in got.Where(s => !s.Ok).GroupBy(s => s.Outcome).Take(5))
            {
                Console.Error.WriteLine($"  round {round + 1}: {bad.Count()} × {bad.Key}");
            }
            time.Advance(TimeSpan.FromSeconds(61)); // a new minute for Tesla's 30 per car, at the broker and at the simulator
        }

        lines.Add("");
        lines.Add("First command to a car (its handshake: session_info_request, ECDH, session upsert) against the later ones, round 1 only (same moment, same load):");
        lines.Add("");
        lines.Add("| round 1 | commands | p50 ms | p95 ms | max ms |");
        lines.Add("|---|---|---|---|---|");
        foreach (var (name, group) in new[] { ("first (with handshake)", all.Where(s => s.Round == 0 && s.First)), ("later (stored session)", all.Where(s => s.Round == 0 && !s.First)) })
        {
            var sorted = group.Select(s => s.Ms).Order().ToList();
            lines.Add(string.Create(Inv, $"| {name} | {sorted.Count:N0} | {P(sorted, 0.5):F1} | {P(sorted, 0.95):F1} | {(sorted.Count == 0 ? double.NaN : sorted[^1]):F1} |"));
        }

        // What the car applied and what Postgres counted: both must equal the commands the API answered ok.
        var applied = 0;
        foreach (var vin in vins)
        {
            applied += (await control.GetFromJsonAsync<List<JsonElement>>($"/_sim/vehicles/{vin}/signed-commands"))!.Count(c => c.GetProperty("result").GetString() == "ok");
        }
        await using (var db = Context(cs))
        {
            var sessions = await db.Database.SqlQuery<long>($"SELECT count(*) AS \"Value\" FROM command_sessions").SingleAsync();
            var counters = await db.Database.SqlQuery<long>($"SELECT coalesce(sum(counter), 0)::bigint AS \"Value\" FROM command_sessions").SingleAsync();
            lines.Add("");
            lines.Add(string.Create(Inv, $"Checks: {all.Count(s => s.Ok):N0} answered ok/signed; the cars applied {applied:N0} ok; {sessions} sessions in command_sessions, their counters sum to {counters:N0}."));
        }
        return string.Join('\n', lines);
    }

    private static double P(IReadOnlyList<double> sorted, double p) => ConnectFlow.Percentile(sorted, p);

    private static BrokerDbContext Context(string cs) =>
        new(new DbContextOptionsBuilder<BrokerDbContext>().UseNpgsql(cs).UseSnakeCaseNamingConvention().Options);
}
