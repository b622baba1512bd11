using Broker.Data;
using Broker.Polling;
using Microsoft.Extensions.Options;
using Quartz;

namespace Broker.Jobs;

/// <summary>
/// Quartz wiring only; the jobs live in their features. The schedule is kept in Postgres
/// (AdoJobStore, <c>qrtz_</c> tables made by a migration) and clustered: every node shares it, each
/// account's job runs on one node at a time, and a dead node's jobs are taken over.
/// </summary>
public static class JobsExtensions
{
    public static WebApplicationBuilder AddJobs(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<PollingOptions>().BindConfiguration(PollingOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<AccountPoller>();
        builder.Services.AddScoped<CostBudget>();
        builder.Services.AddSingleton<BudgetChecks>();
        builder.Services.AddScoped<PollSchedule>();
        var jobs = builder.Configuration.GetSection(JobsOptions.SectionName).Get<JobsOptions>() ?? new JobsOptions();

        // Nodes starting together re-declare the same trigger; without this they fired it on two schedules.
        builder.Services.Configure<QuartzOptions>(o => o.Scheduling.IgnoreDuplicates = true);
        builder.Services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = "broker";   // the same on every node: that is what makes them one cluster
                s.GenerateInstanceId = true;
                s.IdleWaitTime = TimeSpan.FromSeconds(jobs.IdleWaitSeconds);
            });
            q.UseDefaultThreadPool(jobs.MaxConcurrency);
            q.UsePersistentStore(store =>
            {
                // Run when the options are first read (at start), so configuration added late still counts.
                store.UsePostgres(postgres => postgres.ConnectionString = builder.Configuration.GetBrokerConnectionString());
                store.ConfigureStore(o => o.TablePrefix = "qrtz_"); // tables made by the QuartzSchema migration
                store.UseSystemTextJsonSerializer();
                store.UseClustering(c => c.CheckinInterval = TimeSpan.FromSeconds(jobs.ClusterCheckinSeconds));
            });
            q.ScheduleJob<ScheduleAccountsJob>(
                t => t.WithIdentity("schedule-accounts", "broker").StartNow()
                      .WithSimpleSchedule(s => s.WithInterval(TimeSpan.FromSeconds(jobs.ReconcileIntervalSeconds)).RepeatForever()),
                j => j.WithIdentity("schedule-accounts", "broker"));
        });
        if (jobs.Enabled)
        {
            builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        }
        return builder;
    }
}
