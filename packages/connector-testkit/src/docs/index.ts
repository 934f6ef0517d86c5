export { OPTIONS_END, OPTIONS_START, optionRows, optionsTable, withOptionsTable, writeReadmeOptionsTable, type OptionRow } from './options-table.js';
