using Microsoft.AspNetCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Broker.Data;

/// <summary>
/// Postgres unreachable (after the execution strategy's retries) is an outage, not a bug: answer
/// 503 with Retry-After as a problem, so scrapers and API clients back off and try again.
/// </summary>
internal sealed class DatabaseUnavailableHandler(IProblemDetailsService problems, ILogger<DatabaseUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (exception is not (RetryLimitExceededException or NpgsqlException { IsTransient: true }))
        {
            return false;
        }
        logger.LogWarning("Database unavailable while serving {Path}: {Reason}", http.Request.Path, exception.GetBaseException().Message);
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = "30";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = 503, Title = "Broker's database is unavailable", Detail = "Try again shortly; nothing was changed." },
        });
    }
}
