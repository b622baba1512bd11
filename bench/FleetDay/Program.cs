using System.Diagnostics;
using System.Globalization;
using Bench;
using Broker.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace FleetDay;

/// <summary>Not top-level statements: the broker's own Program would clash with a generated one here.</summary>
internal static class FleetDayProgram
{
    public static async Task<int> Main(string[] args)
    {
        // dotnet run -c Release --project bench/FleetDay [-- --interval 60 --wake-after 30 --step 1]
        // One simulated day on a fake clock shared by the brokers and four simulators (one per poller).
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
        // What the people do; every world gets the same script at the same simulated moment. Odd seconds:
        // events on whole minutes would coincide with the pollers' 30/60 s ticks and hide detection delay.
        var script = new (string At, string Vin, string State)[]
        {
            ("00:00", "5YJ3E1EA7PF381204", "asleep"), ("00:00", "7SAYGDEE5PA114587", "charging"), ("00:00", "XP7YGCEK1PB209361", "asleep"),
            ("07:30:17", "5YJ3E1EA7PF381204", "driving"), ("08:45:41", "7SAYGDEE5PA114587", "driving"), ("11:00:23", "7SAYGDEE5PA114587", "online"),
            ("12:15:09", "5YJ3E1EA7PF381204", "driving"), ("13:00:52", "XP7YGCEK1PB209361", "driving"), ("15:30:33", "7SAYGDEE5PA114587", "driving"),
            ("17:30:05", "5YJ3E1EA7PF381204", "driving"), ("19:00:47", "5YJ3E1EA7PF381204", "charging"), ("21:00:29", "XP7YGCEK1PB209361", "charging"),
            ("22:00:14", "7SAYGDEE5PA114587", "charging"),
        }.Select(e => (At: dayStart + TimeSpan.Parse(e.At, CultureInfo.InvariantCulture), e.Vin, e.State)).ToList();

        var wall = Stopwatch.StartNew();
        Hosting.PointAtSources();
        await using var postgres = await LocalPostgres.StartAsync();
        // Streaming: a real mosquitto, and the streaming world's simulator on a clock that lets the bench hold time while
        // the stream catches up (Streaming.cs). The other worlds see the same clock, moved in the same steps.
        await using var mosquitto = await Mosquitto.StartAsync();
        var streamClock = new StreamClock(time, TimeSpan.FromMilliseconds(500));
        Streaming? streaming = null;
        var brokers = new List<BrokerSide>();
        foreach (var (name, wake, streams) in new[]
        {
            ("broker (default: never wakes)", (int?)null, false),
            ($"broker (tenant wakes after {wakeAfter.TotalMinutes:F0} min)", (int?)wakeAfter.TotalMinutes, false),
            ("broker streaming (Fleet Telemetry)", null, true),
        })
        {
            var cs = postgres.ConnectionString($"broker_fleetday_{brokers.Count}");
            await Hosting.MigrateAsync(cs);
            var sim = streams
                ? new SimWorld(streamClock, new Dictionary<string, string?>(mosquitto.SimulatorSettings())
                {
                    ["Simulator:Telemetry:TickMilliseconds"] = streamClock.Tick.TotalMilliseconds.ToString(CultureInfo.InvariantCulture),
                })
                : new SimWorld(time);
            var broker = new BrokerWorld(cs, sim, time, streams ? Streaming.BrokerSettings(mosquitto) : null);
            var side = new BrokerSide(name, sim, broker);
            brokers.Add(side);
            await side.ConnectAsync(wake);
            if (streams)
            {
                // Every car can stream: the partner key is registered and each car holds it before the day starts; the
                // first poll of the day writes the configs, and each car adopts its config when it is next awake.
                await Streaming.PairAsync(broker, sim, fleet.Select(v => v.Vin));
                streaming = await Streaming.StartAsync(mosquitto, streamClock, broker, sim);
            }
        }
        await using var naiveSim = new SimWorld(time);
        var naive = new NaivePoller(naiveSim, time, interval, wakeAfter);
        await naive.AddAccountAsync("alice@example.com", "alice-demo", SimWorld.NaBase, 2252179001);
        await naive.AddAccountAsync("bob@example.com", "bob-demo", SimWorld.EuBase);
        var worlds = brokers.Select(b => b.Sim).Append(naiveSim).ToList();

        streamClock.SetUtcNow(dayStart);
        await streaming!.SettleTickAsync();
        foreach (var world in worlds)
        {
            await world.ResetCallsAsync(); // the day's ledger starts now: connect-time calls are not counted
        }
        brokers.ForEach(b => b.StartAt(dayStart));
        var names = brokers.Select(b => b.Name).Append($"naive ({interval.TotalSeconds:F0} s, wakes after {wakeAfter.TotalMinutes:F0} min)").ToList();
        var watch = names.ToDictionary(n => n, _ => fleet.ToDictionary(v => v.Vin, _ => new VehicleWatch()));
        var sampleEvery = TimeSpan.FromSeconds(5);

        for (var now = dayStart; now < dayStart.AddHours(hours); now = time.GetUtcNow())
        {
            foreach (var e in script.Where(e => e.At <= now).ToList())
            {
                foreach (var world in worlds)
                {
                    await world.SetStateAsync(e.Vin, e.State);
                }
                script.Remove(e);
            }
            foreach (var b in brokers)
            {
                await b.PollDueAsync(now);
            }
            await naive.TickAsync();

            if ((now - dayStart).Ticks % sampleEvery.Ticks == 0)
            {
                for (var i = 0; i < worlds.Count; i++)
                {
                    var modes = await worlds[i].ModesAsync();
                    var stored = i < brokers.Count
                        ? (modes.Values.Any(VehicleWatch.IsActive) ? await brokers[i].DataAtAsync() : [])
                        : naive.DataAt.ToDictionary(d => d.Key, d => ((DateTimeOffset?)d.Value, (double?)null));
                    foreach (var (vin, w) in watch[names[i]])
                    {
                        var (dataAt, chargerKw) = stored.GetValueOrDefault(vin);
                        w.Sample(modes[vin], now, dataAt, sampleEvery, i < brokers.Count ? chargerKw ?? 0 : null);
                    }
                }
            }
            await streaming.AdvanceAsync(step); // time.Advance(step), a tick at a time, each tick's stream stored
        }

        var ledgers = new List<SimWorld.Ledger>();
        foreach (var world in worlds)
        {
            ledgers.Add(await world.CallsAsync());
        }
        Console.WriteLine(Report.Build(fleet, names.Select((n, i) => (n, ledgers[i], watch[n])).ToList(), step));
        Console.WriteLine($"Streamed, all cars, by field (MQTT messages as mosquitto delivered them): {streaming.ByField()}.");
        Console.Error.WriteLine($"fleet-day: {string.Join(", ", brokers.Select(b => $"{b.Polls} account polls by {b.Name}"))}; "
            + $"streamer ticks {streamClock.Ticks}, {streaming.Waits} of them waited for the broker to store, "
            + $"{streaming.Undelivered} ticks left records in a car's buffer, {streaming.Overstored} stored more than delivered; "
            + $"MQTT messages delivered {streaming.Seen}, stored {streaming.Stored}; broker MQTT reconnects {TelemetryMetrics.Reconnects.Value}, "
            + $"write failures {TelemetryMetrics.WriteFailures.Value}; "
            + $"{wall.Elapsed.TotalSeconds:F0} s wall clock");
        await streaming.DisposeAsync();
        foreach (var b in brokers)
        {
            await b.DisposeAsync();
        }
        return 0;

        int Arg(string name, int fallback) =>
            Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
