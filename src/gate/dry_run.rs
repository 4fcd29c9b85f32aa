//! The gate's dry run: what would be lost, and the plan.

use super::*;

pub(super) fn print_dry_run(
    ctx: &Context,
    reason: Reason,
    plan: &Plan,
    stake: &AtStake,
    opts: GateOptions,
) {
    let ui = &ctx.ui;
    execute::print_heading(ctx, reason.command());
    if stake.is_empty() {
        ui.print("Nothing that holds data would be deleted.");
    } else {
        show(ctx, stake);
        if opts.no_backup {
            ui.print("Safety backups: NONE (--no-backup)");
        } else {
            ui.print("The safety backups come first; if one fails, nothing is deleted (exit 4).");
        }
    }
    ui.print("");
    for line in plan.describe() {
        ui.print(&line);
    }
}
