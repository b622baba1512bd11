using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Broker.Tests.Polling;

/// <summary>The real Quartz scheduler, clustered on Postgres, on the wall clock.</summary>
public sealed class ClusteredPollingTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    protected override bool UseFakeTime => false;

    protected override Dictionary<string, string?> BrokerSettings => Settings;

    private static Dictionary<string, string?> Settings => new()
    {
        ["Jobs:Enabled"] = "true",
        ["Jobs:IdleWaitSeconds"] = "1",
        ["Jobs:ClusterCheckinSeconds"] = "2",
    };

    [Fact]
    public async Task ConnectedAccountIsPolledByTheScheduler()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        await WaitForAsync(async db => await db.VehicleReadings.CountAsync(r => r.DataAt != null, Ct) == 2);
        await WaitForAsync(async db => await db.EnergySiteReadings.CountAsync(r => r.DataAt != null, Ct) == 1);

        await using var connection = new NpgsqlConnection(Broker.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var jobs = new NpgsqlCommand("SELECT count(*) FROM qrtz_job_details WHERE job_group = 'accounts'", connection);
        Assert.Equal(1L, await jobs.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task TwoNodesSharingTheDatabasePollEachCarOnce()
    {
        await using var nodeB = new BrokerApplication(Broker.ConnectionString, Simulator, Settings);
        _ = nodeB.Services; // starts its scheduler
        await ResetSimCallsAsync();

        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await WaitForAsync(async db => await db.VehicleReadings.CountAsync(r => r.DataAt != null, Ct) == 2);
        await Task.Delay(TimeSpan.FromSeconds(6), Ct); // several idle-wait rounds of both nodes

        // Driving is read every 30 s and charging every 60 s: within these seconds each car is
        // read exactly once, whichever node ran the account's job.
        var data = (await SimCallsAsync()).Where(c => c.Category == "data").ToList();
        Assert.Equal(2, data.Select(c => c.Device).Distinct().Count());
        Assert.All(data.GroupBy(c => c.Device), g => Assert.Equal(1, g.Sum(c => c.Count)));
    }

    [Fact]
    public async Task ScheduleOutlivesTheNodeThatMadeIt()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await WaitForAsync(async db => await db.VehicleReadings.CountAsync(r => r.DataAt != null, Ct) == 2);
        await Broker.DisposeAsync(); // node A is gone; its jobs and triggers stay in Postgres
        await ResetSimCallsAsync();

        await using var nodeB = new BrokerApplication(Broker.ConnectionString, Simulator, Settings);
        _ = nodeB.Services;

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await SimCallsAsync()).Any(c => c.Category == "data"))
        {
            Assert.True(DateTime.UtcNow < deadline, "node B never took over the account's schedule");
            await Task.Delay(500, Ct);
        }
    }

    [Fact]
    public async Task StoppingANodeLetsItsRunningPollFinishFirst()
    {
        // Every Fleet API answer takes 2 s, so the first poll is still running when the node is told to stop.
        await AddSimFaultAsync(new { path = "/api/1/vehicles", delayMs = 2000, count = 20 });
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await using (var connection = new NpgsqlConnection(Broker.ConnectionString))
        {
            await connection.OpenAsync(Ct);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                await using var executing = new NpgsqlCommand("SELECT count(*) FROM qrtz_fired_triggers WHERE state = 'EXECUTING'", connection);
                if ((long)(await executing.ExecuteScalarAsync(Ct))! > 0)
                {
                    break;
                }
                Assert.True(DateTime.UtcNow < deadline, "no poll started");
                await Task.Delay(100, Ct);
            }
        }

        await Broker.DisposeAsync(); // graceful: the host waits for the running job

        await using var db = Broker.CreateDbContext();
        Assert.Equal(2, await db.VehicleReadings.CountAsync(r => r.DataAt != null, Ct));
        Assert.DoesNotContain(Broker.Logs.Lines, l => l.Contains("TaskCanceledException") || l.Contains("OperationCanceledException"));
        // The poll that finished on a stopping node could not move its trigger; the account must still have one,
        // or nothing polls it until a reconcile somewhere notices.
        await using var check = new NpgsqlConnection(Broker.ConnectionString);
        await check.OpenAsync(Ct);
        await using var triggers = new NpgsqlCommand("SELECT count(*) FROM qrtz_triggers WHERE job_name LIKE 'poll-%'", check);
        Assert.True((long)(await triggers.ExecuteScalarAsync(Ct))! == 1,
            "the account has no poll trigger after the graceful stop:\n" + string.Join('\n', Broker.Logs.Lines.Where(l => l.StartsWith("Error") || l.StartsWith("Warning"))));
    }

    private async Task WaitForAsync(Func<global::Broker.Data.BrokerDbContext, Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await using (var db = Broker.CreateDbContext())
            {
                if (await condition(db))
                {
                    return;
                }
            }
            Assert.True(DateTime.UtcNow < deadline, "The scheduler did not poll within 30 s:\n"
                + string.Join('\n', Broker.Logs.Lines.Where(l => l.StartsWith("Warning") || l.StartsWith("Error"))));
            await Task.Delay(250, Ct);
        }
    }
}
