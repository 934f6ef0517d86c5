export {
  OPTIONS_END,
  OPTIONS_START,
  optionRows,
  optionSections,
  optionSectionsMarkdown,
  optionsTable,
  withOptionsTable,
  writeReadmeOptionsTable,
  type OptionRow,
  type OptionSection,
} from './options-table.js';
