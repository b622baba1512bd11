using Broker.Data;
using Broker.People;

namespace Broker.Admin;

/// <summary>
/// Adds audit events for the current request: who (the principal's actor claim), when, from which
/// address. The caller's <c>SaveChangesAsync</c> writes them with the change they describe.
/// </summary>
public sealed class AuditLog(BrokerDbContext db, IHttpContextAccessor http, TimeProvider time)
{
    public AuditEvent Add(string action, Guid? tenantId = null, Guid? accountId = null, string? detail = null, string? actor = null)
    {
        var context = http.HttpContext;
        var entry = new AuditEvent
        {
            At = time.GetUtcNow(),
            Action = action,
            Actor = actor ?? context?.User.Actor() ?? "system",
            TenantId = tenantId,
            AccountId = accountId,
            Detail = detail,
            Address = context?.Connection.RemoteIpAddress?.ToString(),
        };
        db.AuditEvents.Add(entry);
        return entry;
    }
}
