using Microsoft.AspNetCore.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Broker.Data;

/// <summary>
/// A write that lost a race to an equal one (two invitations of one email, two tenants of one slug, two partner keys
/// made at once) meets a unique index in Postgres: that is a conflict for the client to see (409), not a server error.
/// The index is the rule; the code checking first only makes the usual case friendlier.
/// </summary>
internal sealed class UniqueViolationHandler(IProblemDetailsService problems, ILogger<UniqueViolationHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (exception.GetBaseException() is not PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } unique)
        {
            return false;
        }
        logger.LogInformation("A concurrent write won on {Path} ({Constraint})", http.Request.Path, unique.ConstraintName);
        http.Response.StatusCode = StatusCodes.Status409Conflict;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = 409, Title = "Conflict", Detail = "Someone else made the same change at the same moment; nothing more was changed. Reload and look again." },
        });
    }
}
