using System.Diagnostics;
using System.Globalization;
using Bench;
using Broker.Data;
using Broker.Polling;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace FleetDay;

/// <summary>Not top-level statements: the broker's own Program would clash with a generated one here.</summary>
internal static class FleetDayProgram
{
    public static async Task<int> Main(string[] args)
    {
        // dotnet run -c Release --project bench/FleetDay [-- --interval 60 --wake-after 30 --step 1]
        // One simulated day on a fake clock shared by the broker and two simulators (one per poller).
        var interval = TimeSpan.FromSeconds(Arg("--interval", 60));
        var wakeAfter = TimeSpan.FromMinutes(Arg("--wake-after", 30));
        var step = TimeSpan.FromSeconds(Arg("--step", 1));
        var hours = Arg("--hours", 24); // shorter runs for a smoke test; the results are for 24
        // The next midnight UTC: connecting needs a clock near the real one (cookies and id_token are
        // checked against both); the day itself runs on the fake clock alone.
        var dayStart = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(1), TimeSpan.Zero);
        var time = new FakeTimeProvider(dayStart.AddMinutes(-5));

        var fleet = new (string Vin, string Name, string Role)[]
        {
            ("5YJ3E1EA7PF381204", "Midnight Runner", "commuter: 2 commutes + lunch trip, evening charge"),
            ("7SAYGDEE5PA114587", "Blue Yonder", "family car: overnight charge, 2 trips, someone sits in it at 11:00, late charge"),
            ("XP7YGCEK1PB209361", "Nachtfalke", "mostly asleep: one trip at 13:00, charge at 21:00"),
        };
        // What the people do; both worlds get the same script at the same simulated moment.
        var script = new (string At, string Vin, string State)[]
        {
            ("00:00", "5YJ3E1EA7PF381204", "asleep"), ("00:00", "7SAYGDEE5PA114587", "charging"), ("00:00", "XP7YGCEK1PB209361", "asleep"),
            ("07:30", "5YJ3E1EA7PF381204", "driving"), ("08:45", "7SAYGDEE5PA114587", "driving"), ("11:00", "7SAYGDEE5PA114587", "online"),
            ("12:15", "5YJ3E1EA7PF381204", "driving"), ("13:00", "XP7YGCEK1PB209361", "driving"), ("15:30", "7SAYGDEE5PA114587", "driving"),
            ("17:30", "5YJ3E1EA7PF381204", "driving"), ("19:00", "5YJ3E1EA7PF381204", "charging"), ("21:00", "XP7YGCEK1PB209361", "charging"),
            ("22:00", "7SAYGDEE5PA114587", "charging"),
        }.Select(e => (At: dayStart + TimeSpan.Parse(e.At, CultureInfo.InvariantCulture), e.Vin, e.State)).ToList();

        var wall = Stopwatch.StartNew();
        Hosting.PointAtSources();
        await using var postgres = await LocalPostgres.StartAsync();
        await using var brokerSim = new SimWorld(time);
        await using var naiveSim = new SimWorld(time);
        await Hosting.MigrateAsync(postgres.ConnectionString("broker_fleetday"));
        await using var broker = new BrokerWorld(postgres.ConnectionString("broker_fleetday"), brokerSim, time);

        // The people connect their accounts (broker) and set up the exporter (naive), just before the day.
        Guid[] accountIds;
        await using (var scope = broker.Services.CreateAsyncScope())
        {
            var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
            var tenant = await provisioning.EnsureTenantAsync("bench", "Fleet-day bench", default);
            foreach (var (email, password) in new[] { ("alice@example.com", "alice-demo"), ("bob@example.com", "bob-demo") })
            {
                var (_, link) = await provisioning.AddConnectLinkAsync(tenant.Id, email, default);
                await Connect.ThroughBrokerAsync(broker, brokerSim, link, email, password);
            }
            accountIds = await scope.ServiceProvider.GetRequiredService<BrokerDbContext>().TeslaAccounts.Select(a => a.Id).ToArrayAsync();
        }
        var naive = new NaivePoller(naiveSim, time, interval, wakeAfter);
        await naive.AddAccountAsync("alice@example.com", "alice-demo", SimWorld.NaBase, 2252179001);
        await naive.AddAccountAsync("bob@example.com", "bob-demo", SimWorld.EuBase);

        time.SetUtcNow(dayStart);
        await brokerSim.ResetCallsAsync(); // the day's ledger starts now: connect-time calls are not counted
        await naiveSim.ResetCallsAsync();
        var due = accountIds.ToDictionary(id => id, id => (DateTimeOffset?)dayStart);
        var watch = fleet.ToDictionary(v => v.Vin, _ => (Broker: new VehicleWatch(), Naive: new VehicleWatch()));
        var brokerPolls = 0;
        var sampleEvery = TimeSpan.FromSeconds(5);

        for (var now = dayStart; now < dayStart.AddHours(hours); now = time.GetUtcNow())
        {
            foreach (var e in script.Where(e => e.At <= now).ToList())
            {
                await brokerSim.SetStateAsync(e.Vin, e.State);
                await naiveSim.SetStateAsync(e.Vin, e.State);
                script.Remove(e);
            }
            // What the Quartz trigger does: each account whose next due time has come is polled, and says when it is next due.
            foreach (var (id, at) in due.Where(d => d.Value <= now).ToList())
            {
                await using var scope = broker.Services.CreateAsyncScope();
                due[id] = await scope.ServiceProvider.GetRequiredService<AccountPoller>().PollAsync(id, at, default);
                brokerPolls++;
            }
            await naive.TickAsync();

            if ((now - dayStart).Ticks % sampleEvery.Ticks == 0)
            {
                var brokerModes = await brokerSim.ModesAsync();
                var naiveModes = await naiveSim.ModesAsync();
                var brokerDataAt = brokerModes.Values.Any(VehicleWatch.IsActive) ? await BrokerDataAtAsync() : [];
                foreach (var (vin, (b, n)) in watch)
                {
                    b.Sample(brokerModes[vin], now, brokerDataAt.GetValueOrDefault(vin), sampleEvery);
                    n.Sample(naiveModes[vin], now, naive.DataAt.TryGetValue(vin, out var at) ? at : null, sampleEvery);
                }
            }
            time.Advance(step);
        }

        var report = Report.Build(fleet, watch, await brokerSim.CallsAsync(), await naiveSim.CallsAsync(), interval, wakeAfter, step);
        Console.WriteLine(report);
        Console.Error.WriteLine($"fleet-day: {brokerPolls} broker account polls, {wall.Elapsed.TotalSeconds:F0} s wall clock");
        return 0;

        async Task<Dictionary<string, DateTimeOffset?>> BrokerDataAtAsync()
        {
            await using var scope = broker.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BrokerDbContext>();
            return await (from r in db.VehicleReadings join v in db.Vehicles on r.VehicleId equals v.Id select new { v.Vin, r.DataAt })
                .ToDictionaryAsync(x => x.Vin, x => x.DataAt);
        }

        int Arg(string name, int fallback) =>
            Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
