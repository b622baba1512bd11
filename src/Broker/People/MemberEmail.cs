using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace Broker.People;

/// <summary>
/// An email an invitation can be bound to: a plain dot-atom address at a dotted host name, the way identity providers
/// send them (<c>ann.lee+broker@example.com</c>). The framework's [EmailAddress] only checks for one '@', so
/// <c>a b@c.com</c>, <c>a@b</c>, <c>"a"@c.com</c> and <c>&lt;script&gt;@x.com</c> passed as invitations nobody could accept.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter | AttributeTargets.Field)]
public sealed partial class MemberEmailAttribute() : ValidationAttribute("The {0} field is not an email address a person can sign in with (name@example.com).")
{
    public override bool IsValid(object? value) => value is not string email || IsValidEmail(email);

    /// <summary>The shape, and SMTP's lengths (RFC 5321 §4.5.3.1): 64 before the @, 254 in all, as a real mailbox has.</summary>
    public static bool IsValidEmail(string email) => email.Length <= 254 && email.IndexOf('@') is > 0 and <= 64 && Shape().IsMatch(email);

    [GeneratedRegex(@"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\z")]
    private static partial Regex Shape();
}

/// <summary>A membership change that would break a rule of the tenant (already a member, or no admin left); a 409.</summary>
public sealed class MembershipConflictException(string message) : Exception(message);
