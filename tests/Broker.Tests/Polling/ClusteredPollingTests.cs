using Broker.Polling;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Quartz;

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
        // The reconcile runs once, as a node starts (before any account exists), and not again within a test:
        // what these tests see is what the accounts' own triggers do, with nothing restoring them behind their back.
        ["Jobs:ReconcileIntervalSeconds"] = "3600",
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

        // Driving is read every 45 s and charging every 60 s: within these seconds each car is
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

    [Fact]
    public async Task PollFiredAsItsNodeStopsLeavesATriggerAnotherNodeFires()
    {
        var hold = new HoldUntilStopping();
        var scheduler = await Broker.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(Ct);
        scheduler.ListenerManager.AddJobListener(hold, GroupMatcher<JobKey>.GroupEquals(PollSchedule.Group));
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await hold.Fired.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var fired = DateTime.UtcNow;

        await Broker.DisposeAsync(); // graceful: the held poll runs now, on a scheduler that refuses every change
        Assert.True(hold.RanWhileStopping, "the poll did not run on the stopping node");
        Assert.True(await PollTriggersAsync() == 1, "the account has no poll trigger after its poll ran on a stopping node:\n"
            + string.Join('\n', Broker.Logs.Lines.Where(l => l.StartsWith("Error") || l.StartsWith("Warning"))));

        // Another node, whose reconcile does not run within the test, picks the account up from that trigger alone.
        await using var nodeB = new BrokerApplication(Broker.ConnectionString, Simulator, Settings);
        var polls = new PollRecorder();
        await polls.AttachAsync("b", nodeB.Services, Ct);
        var deadline = fired.AddSeconds(80); // the trigger repeats every minute; 20 s for the idle wait and a busy machine
        while (polls.Runs.Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "node B did not poll the account within about a minute");
            await Task.Delay(250, Ct);
        }
        Assert.DoesNotContain(nodeB.Logs.Lines, l => l.Contains("Poll schedule reconciled"));
    }

    [Fact]
    public async Task ReconcileGivesAOneShotTriggerFromAnOlderVersionTheRepeatingShape()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await WaitForAsync(async db => await db.VehicleReadings.CountAsync(r => r.DataAt != null, Ct) == 2);
        var scheduler = await Broker.Services.GetRequiredService<ISchedulerFactory>().GetScheduler(Ct);
        await scheduler.Standby(Ct); // fires nothing more; the first poll may still be finishing
        await using (var connection = new NpgsqlConnection(Broker.ConnectionString))
        {
            await connection.OpenAsync(Ct);
            await using var running = new NpgsqlCommand("SELECT count(*) FROM qrtz_fired_triggers", connection);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((long)(await running.ExecuteScalarAsync(Ct))! > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the first poll did not finish");
                await Task.Delay(100, Ct);
            }
        }
        await using var db = Broker.CreateDbContext();
        var accountId = (await db.TeslaAccounts.SingleAsync(Ct)).Id;
        var due = DateTimeOffset.UtcNow.AddMinutes(10);
        var oneShot = TriggerBuilder.Create().WithIdentity(PollSchedule.TriggerKeyOf(accountId)).ForJob(PollSchedule.JobKeyOf(accountId)).StartAt(due).Build();
        await scheduler.RescheduleJob(oneShot.Key, oneShot, Ct);

        await using (var scope = Broker.Services.CreateAsyncScope())
        {
            Assert.Equal((1, 0), await scope.ServiceProvider.GetRequiredService<PollSchedule>().ReconcileAsync(Ct));
            Assert.Equal((0, 0), await scope.ServiceProvider.GetRequiredService<PollSchedule>().ReconcileAsync(Ct));
        }

        var trigger = Assert.IsAssignableFrom<ISimpleTrigger>(await scheduler.GetTrigger(PollSchedule.TriggerKeyOf(accountId), Ct));
        Assert.Equal(-1, trigger.RepeatCount);
        Assert.Equal(PollSchedule.SafetyInterval, trigger.RepeatInterval);
        Assert.Equal(due, trigger.NextFireTimeUtc!.Value, TimeSpan.FromMilliseconds(1));
    }

    private async Task<long> PollTriggersAsync()
    {
        await using var connection = new NpgsqlConnection(Broker.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var triggers = new NpgsqlCommand("SELECT count(*) FROM qrtz_triggers WHERE trigger_group = 'accounts'", connection);
        return (long)(await triggers.ExecuteScalarAsync(Ct))!;
    }

    /// <summary>
    /// Holds a poll back from the moment it fires until its node has begun to stop: the poll then runs on a
    /// scheduler that refuses every change, as one does that fires the moment its node is told to stop.
    /// </summary>
    private sealed class HoldUntilStopping : IJobListener
    {
        private readonly TaskCompletionSource _fired = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "hold-until-stopping";
        public Task Fired => _fired.Task;
        public bool RanWhileStopping { get; private set; }

        public async ValueTask JobToBeExecuted(IJobExecutionContext context, CancellationToken ct = default)
        {
            _fired.TrySetResult();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!Stopping(context.Scheduler) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, CancellationToken.None);
            }
            RanWhileStopping = Stopping(context.Scheduler);
        }

        public ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken ct = default) =>
            ValueTask.CompletedTask;

        private static bool Stopping(IScheduler scheduler) => scheduler.Status is SchedulerStatus.ShuttingDown or SchedulerStatus.Shutdown;
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
