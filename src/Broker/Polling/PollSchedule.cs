using Broker.Accounts;
using Broker.Data;
using Microsoft.EntityFrameworkCore;
using Quartz;

namespace Broker.Polling;

/// <summary>
/// One Quartz job per active account, with a one-shot trigger the job parks a minute ahead when it
/// starts and moves to its next due time after each poll. <see cref="ReconcileAsync"/> (run every minute by <see cref="ScheduleAccountsJob"/>)
/// is the single place schedules are declared: it adds jobs for new accounts, restores a trigger
/// a crash may have consumed, and deletes the jobs of accounts that are no longer active.
/// </summary>
public sealed class PollSchedule(ISchedulerFactory schedulers, BrokerDbContext db, TimeProvider time, ILogger<PollSchedule> logger)
{
    public const string Group = "accounts";

    public static JobKey JobKeyOf(Guid accountId) => new($"poll-{accountId:N}", Group);
    public static TriggerKey TriggerKeyOf(Guid accountId) => new($"poll-{accountId:N}", Group);

    public static ITrigger TriggerAt(Guid accountId, DateTimeOffset at) => TriggerBuilder.Create()
        .WithIdentity(TriggerKeyOf(accountId))
        .ForJob(JobKeyOf(accountId))
        .StartAt(at)
        .Build();

    /// <summary>Polls the account as soon as a node is free (after a connect or reconnect).</summary>
    public async Task PollSoonAsync(Guid accountId, CancellationToken ct)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        await EnsureAsync(scheduler, accountId, time.GetUtcNow(), replaceTrigger: true, ct);
    }

    public async Task<(int Added, int Removed)> ReconcileAsync(CancellationToken ct)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        var active = (await db.TeslaAccounts.Where(a => a.Status == AccountStatus.Active).Select(a => a.Id).ToListAsync(ct)).ToHashSet();
        var scheduled = (await scheduler.GetJobKeys(GroupMatcher<JobKey>.GroupEquals(Group), ct)).ToList();
        var added = 0;
        foreach (var id in active)
        {
            if (await EnsureAsync(scheduler, id, time.GetUtcNow(), replaceTrigger: false, ct))
            {
                added++;
            }
        }
        var removed = 0;
        foreach (var key in scheduled.Where(k => !active.Contains(AccountIdOf(k))))
        {
            await scheduler.DeleteJob(key, ct);
            removed++;
        }
        if (added + removed > 0)
        {
            logger.LogInformation("Poll schedule reconciled: {Added} account(s) scheduled, {Removed} removed", added, removed);
        }
        return (added, removed);
    }

    private static async Task<bool> EnsureAsync(IScheduler scheduler, Guid accountId, DateTimeOffset at, bool replaceTrigger, CancellationToken ct)
    {
        var job = JobBuilder.Create<PollAccountJob>()
            .WithIdentity(JobKeyOf(accountId))
            .UsingJobData(PollAccountJob.AccountIdKey, accountId.ToString())
            .StoreDurably()
            .RequestRecovery() // a node dying mid-poll: another node runs it again
            .Build();
        if (await scheduler.GetJobDetail(job.Key, ct) is null)
        {
            await scheduler.ScheduleJob(job, TriggerAt(accountId, at), new ScheduleJobOptions(), ct);
            return true;
        }
        if (replaceTrigger || await scheduler.GetTrigger(TriggerKeyOf(accountId), ct) is null)
        {
            var trigger = TriggerAt(accountId, at);
            if (await scheduler.RescheduleJob(trigger.Key, trigger, ct) is null)
            {
                await scheduler.ScheduleJob(trigger, new ScheduleJobOptions(), ct);
            }
            return !replaceTrigger;
        }
        return false;
    }

    private static Guid AccountIdOf(JobKey key) =>
        Guid.TryParseExact(key.Name.Replace("poll-", ""), "N", out var id) ? id : Guid.Empty;
}

/// <summary>Keeps one job per active account (see <see cref="PollSchedule.ReconcileAsync"/>).</summary>
[DisallowConcurrentExecution]
public sealed class ScheduleAccountsJob(PollSchedule schedule) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        await schedule.ReconcileAsync(cancellationToken);
}

/// <summary>Polls one account, then moves its trigger to when something is next due (or removes the job).</summary>
[DisallowConcurrentExecution]
public sealed class PollAccountJob(AccountPoller poller, ILogger<PollAccountJob> logger) : IJob
{
    public const string AccountIdKey = "accountId";

    /// <summary>Where the trigger waits while the poll runs, in case the poll cannot move it afterwards.</summary>
    public static readonly TimeSpan ParkedFor = TimeSpan.FromMinutes(1);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var accountId = Guid.Parse(context.MergedJobDataMap.GetString(AccountIdKey)!);
        var pollTrigger = PollSchedule.TriggerKeyOf(accountId); // a recovery run fires another trigger; this one is the account's
        // Firing uses up the one-shot trigger. Park a new one a minute ahead first: a poll that fails, or
        // that finishes on a stopping node (whose scheduler refuses every change), leaves the account
        // with a trigger that any node picks up, instead of none until a reconcile notices.
        if (!context.Recovering)
        {
            try
            {
                await context.Scheduler.RescheduleJob(pollTrigger, PollSchedule.TriggerAt(accountId, context.FireTimeUtc + ParkedFor), cancellationToken);
            }
            catch (SchedulerException) when (Stopping(context.Scheduler))
            {
                // Fired the moment this node began to stop: poll anyway; a reconcile (any node, every minute) restores the trigger.
                logger.LogInformation("Account {AccountId} polled as this node stops; its trigger is restored by the next reconcile", accountId);
            }
        }
        var next = await poller.PollAsync(accountId, context.ScheduledFireTimeUtc, cancellationToken);
        if (Stopping(context.Scheduler))
        {
            logger.LogInformation("Account {AccountId} polled while this node stops; its next poll runs from the parked trigger", accountId);
            return;
        }
        if (next is null)
        {
            await context.Scheduler.DeleteJob(context.JobDetail.Key, cancellationToken);
            return;
        }
        var trigger = PollSchedule.TriggerAt(accountId, next.Value);
        if (await context.Scheduler.RescheduleJob(pollTrigger, trigger, cancellationToken) is null)
        {
            await context.Scheduler.ScheduleJob(trigger, new ScheduleJobOptions(), cancellationToken);
        }
    }

    /// <summary>The node is stopping: its scheduler refuses every change (a local scheduler answers at no cost).</summary>
    private static bool Stopping(IScheduler scheduler) => scheduler.Status is SchedulerStatus.ShuttingDown or SchedulerStatus.Shutdown;
}
