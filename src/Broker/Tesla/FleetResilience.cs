using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Broker.Tesla;

/// <summary>
/// Retries for Fleet API reads: only 5xx (not billed by Tesla), timeouts and dropped connections,
/// with exponential back-off and jitter. Never 408 (asleep: an answer, not a fault), never 429
/// (Retry-After can be hours; the poller waits it out), never a POST (a wake is billed).
/// </summary>
internal static class FleetResilience
{
    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline)
    {
        // Back-off between network attempts is real waiting, whatever clock the broker's logic runs on.
        pipeline.TimeProvider = TimeProvider.System;
        pipeline.AddRetry(new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = 2,
            Delay = TimeSpan.FromMilliseconds(500),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            ShouldRetryAfterHeader = false,
            ShouldHandle = args => ValueTask.FromResult(
                args.Context.GetRequestMessage()?.Method != HttpMethod.Post
                && (args.Outcome.Exception is HttpRequestException or Polly.Timeout.TimeoutRejectedException
                    || args.Outcome.Result?.StatusCode >= HttpStatusCode.InternalServerError)),
        });
        pipeline.AddTimeout(TimeSpan.FromSeconds(15));
    }
}
