/** The cloud planner's public surface: IR environment → checked WAF/API Gateway plan, and its summary. */
export { planCloud } from './plan';
export { renderCloudPlanSummary, type SummaryOptions } from './summary';
export { checkWafLimits, statementWcu, webAclWcu, WAF_LIMITS, WCU_COSTS } from './quotas';
export { toWafRate } from './rate-limits';
export { RULE_ORDER } from './waf-rules';
export type * from './types';
export { actionText, diffCloudPlans, type CloudChange, type CloudChangeTopic } from './plan-diff';
export { DEFAULT_RULE_GROUP_CAPACITY, ruleGroupPlan, ruleGroupReference, type RuleGroupPlan } from './rule-group';
export { associationSuffix, importCommands, type ImportOptions } from './import';
